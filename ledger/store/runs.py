"""One page of `ledger runs`: filtered, sorted and limited in SQL (sql/queries/runs.sql).

Why a page and not `list_runs`: on 10k runs the list is 10k lines nobody reads at 3 a.m.; the
filters (agent, initiating user, status, window, a set of runs), the order and the limit run in
PostgreSQL so the cost is one query plus the page, and the count of what was not shown comes
with it (`showing 50 of 10000 runs`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ledger.db.sqlfiles import query

__all__ = [
    "EXERCISE_PREFIX",
    "RUN_STATUSES",
    "SORTS",
    "RunFilter",
    "RunRow",
    "RunsPage",
    "SeqBounds",
    "runs_page",
    "seq_bounds",
]

EXERCISE_PREFIX = "exercise-"  # tenants of tabletop exercises (tui/exercise.py writes there)
# A run's lifecycle status: run.ended's status (ledger/event_data.py RunEndedData), else open
# (`running`) or waiting on a resume (`suspended`, issue 17).
RUN_STATUSES = ("succeeded", "failed", "cancelled", "stopped", "abandoned", "running",
                "suspended")
SORTS = ("started", "agent", "status", "events")


@dataclass(frozen=True, slots=True)
class RunFilter:
    """What `ledger runs` asks for; None everywhere means every run, newest first."""

    agent: str | None = None
    initiator: str | None = None
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    only: frozenset[uuid.UUID] | None = None  # e.g. the failing runs; empty: no run matches
    exercises: bool = False
    sort: str = "started"
    limit: int | None = 50  # None: every matching run


@dataclass(frozen=True, slots=True)
class RunRow:
    """One listed run (text fields are a writer's: print them through `printable`)."""

    run_id: uuid.UUID
    origin: str
    agent: str | None
    initiating_user: str | None
    started_at: str
    status: str  # lifecycle: one of RUN_STATUSES
    event_count: int
    imported: bool  # some event says `trust: imported` (ledger import)
    has_start: bool  # the first event is run.started (else the run is listed, flagged)
    exercise: bool = False  # a tabletop exercise's run (tenant `exercise-*`)

    @property
    def shown_status(self) -> str:
        """The STATUS cell: lifecycle, marked when imported or when run.started is missing."""
        text = f"{self.status} (imported)" if self.imported else self.status
        return text if self.has_start else f"no run.started ({text})"


@dataclass(frozen=True, slots=True)
class RunsPage:
    """The page, and how many runs matched before the limit (`hidden`: exercise runs left out)."""

    rows: list[RunRow]
    total: int
    hidden: int


def runs_page(conn: psycopg.Connection, wanted: RunFilter) -> RunsPage:
    """The runs `wanted` selects, in its order, at most `wanted.limit` of them."""
    params = {
        "agent": wanted.agent,
        "initiator": wanted.initiator,
        "statuses": list(wanted.statuses) or None,
        "since": wanted.since,
        "until": wanted.until,
        "only": None if wanted.only is None else list(wanted.only),
        "exercises": wanted.exercises,
        "sort": wanted.sort,
        "limit": wanted.limit,
    }
    found = conn.execute(query("runs_page"), params).fetchall()
    total, hidden = (int(found[0][0]), int(found[0][1])) if found else (0, 0)
    rows = [
        RunRow(run_id=r[2], origin=r[3], agent=r[5], initiating_user=r[6], started_at=r[7] or "",
               status=r[8], event_count=int(r[9]), exercise=bool(r[10]),
               imported=bool(r[11]), has_start=r[4] == "run.started")
        for r in found if r[2] is not None
    ]
    return RunsPage(rows, total, hidden)


@dataclass(frozen=True, slots=True)
class SeqBounds:
    """The seqs `ledger replay --at` may name for a run: its first event's up to its log's head."""

    first: int
    head: int


def seq_bounds(conn: psycopg.Connection, run_id: uuid.UUID) -> SeqBounds | None:
    """None when the run has no events."""
    row = conn.execute(query("run_seq_bounds"), (run_id,)).fetchone()
    return None if row is None else SeqBounds(int(row[0]), int(row[1]))

