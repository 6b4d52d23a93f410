"""Reads of the log: a run's events, the list of runs, checkpoints, single events.

Readers get the stored canonical bytes and decode them on demand; nothing here trusts the
projection columns for content (those are for indexing; `ledger verify` checks them).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ledger.db.sqlfiles import query
from ledger.events import EventBase, decode_event

__all__ = [
    "CheckpointRow",
    "RunSummary",
    "StoredEvent",
    "event_by_id",
    "iter_events",
    "latest_checkpoint",
    "list_runs",
    "origins",
    "run_events",
]


@dataclass(frozen=True)
class StoredEvent:
    """One event as stored: position, record time, canonical bytes, leaf hash."""

    seq: int
    recorded_at: datetime | None
    body: bytes
    leaf_hash: bytes
    origin: str = ""

    @functools.cached_property
    def event(self) -> EventBase:
        """The typed event decoded from the stored bytes."""
        return decode_event(self.body)


@dataclass(frozen=True)
class RunSummary:
    """One line of `ledger runs`."""

    run_id: uuid.UUID
    origin: str
    agent: str | None
    initiating_user: str | None
    started_at: str
    status: str
    event_count: int


@dataclass(frozen=True)
class CheckpointRow:
    """The latest signed checkpoint of an origin."""

    tree_size: int
    root_hash: bytes
    note: str
    frontier: bytes
    created_at: datetime


def run_events(conn: psycopg.Connection, run_id: uuid.UUID) -> list[StoredEvent]:
    """Every stored event of a run, in run order."""
    return [
        StoredEvent(int(seq), rec, bytes(body), bytes(leaf), origin)
        for seq, rec, body, leaf, origin in conn.execute(query("run_events"), (run_id,)).fetchall()
    ]


def event_by_id(conn: psycopg.Connection, event_id: uuid.UUID) -> StoredEvent | None:
    """One stored event by id, or None."""
    row = conn.execute(query("event_by_id"), (event_id,)).fetchone()
    if row is None:
        return None
    origin, seq, rec, body, leaf = row
    return StoredEvent(int(seq), rec, bytes(body), bytes(leaf), origin)


def iter_events(
    conn: psycopg.Connection, origin: str, from_seq: int = 0, batch: int = 10_000
) -> Iterator[StoredEvent]:
    """All events of an origin in `seq` order, streamed in batches (flat memory)."""
    last = from_seq - 1
    while True:
        rows = conn.execute(
            "SELECT seq, recorded_at, body, leaf_hash FROM ledger_events "
            "WHERE origin = %s AND seq > %s ORDER BY seq LIMIT %s",
            (origin, last, batch),
        ).fetchall()
        if not rows:
            return
        for seq, rec, body, leaf in rows:
            yield StoredEvent(int(seq), rec, bytes(body), bytes(leaf), origin)
        last = int(rows[-1][0])


def list_runs(
    conn: psycopg.Connection, since: datetime | None = None, until: datetime | None = None
) -> list[RunSummary]:
    """Runs that have a run.started event, oldest first, with status and event count."""
    runs: list[RunSummary] = []
    for run_id, origin, body, _rec, count, end_body in conn.execute(
        query("list_runs"), {"since": since, "until": until}
    ).fetchall():
        started = decode_event(bytes(body))
        status = "running"
        if end_body is not None:
            status = str(decode_event(bytes(end_body)).data.status)
        runs.append(
            RunSummary(
                run_id=run_id,
                origin=origin,
                agent=started.agent.name if started.agent else None,
                initiating_user=started.principal.initiating_user,
                started_at=started.occurred_at,
                status=status,
                event_count=int(count),
            )
        )
    return runs


def latest_checkpoint(conn: psycopg.Connection, origin: str) -> CheckpointRow | None:
    """The newest checkpoint of an origin, or None for an empty log."""
    row = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
    if row is None:
        return None
    size, root, note, frontier, created = row
    return CheckpointRow(int(size), bytes(root), note, bytes(frontier), created)


def origins(conn: psycopg.Connection) -> list[str]:
    """Every log origin (tenant) present in the database."""
    return [row[0] for row in conn.execute(query("origins")).fetchall()]
