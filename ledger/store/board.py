"""Reads behind the forensics board, the timeline and the inspector (statements in
sql/queries/board.sql).

Why a store module rather than SQL in the TUI: `ledger/store/` is the only code that knows the
tables, so a schema change is made here once and every front end (the TUI today, a web board
tomorrow) reads through the same typed functions. Everything here is a read; nothing in this
module can write, which is what `ledger tui --readonly` relies on. Timeline pages are keyset
reads (a seq range, or an explicit list of keys), so a million-event log costs what one page
costs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import sql

from ledger.db.sqlfiles import query
from ledger.store.read import StoredEvent

__all__ = [
    "EventKey",
    "OpenApproval",
    "RunMark",
    "VerdictSet",
    "event_at",
    "event_keys",
    "events_by_keys",
    "events_in_range",
    "events_of_type",
    "latest_policy",
    "linked_events",
    "open_approvals",
    "origin_size",
    "run_leaf",
    "run_marks",
    "run_starts_before",
    "seq_at_time",
    "verdict_sets",
    "watch_appended",
]

# condition name -> JSON path of the field it compares (the `board_when_field` statement)
_FIELD_PATHS: dict[str, list[str]] = {
    "agent": ["agent", "name"],
    "user": ["principal", "initiating_user"],
    "tool": ["data", "tool"],
    "prompt": ["versions", "prompt_version"],
    "model": ["versions", "model"],
}


# Where one event sits: (origin, seq, occurred_at). A plain tuple, not a NamedTuple: key lists
# hold up to 500,000 of them, and a NamedTuple costs four times as much to build.
EventKey = tuple[str, int, datetime]


@dataclass(frozen=True)
class OpenApproval:
    """An approval.requested with no decision yet."""

    origin: str
    seq: int
    run_id: str
    approval_id: str
    tool: str
    required_roles: tuple[str, ...]
    reason: str


def _stored(rows: Iterable[Sequence[Any]]) -> list[StoredEvent]:
    return [
        StoredEvent(int(seq), rec, bytes(body), bytes(leaf), str(origin))
        for seq, rec, body, leaf, origin in rows
    ]


@dataclass(frozen=True, slots=True)
class VerdictSet:
    """One stored set of a run's verdicts (rows of `ledger_verdicts`: derived, deletable)."""

    policy_hash: str
    evaluator_version: str
    through_seq: int | None  # None when any row lacks it (cannot be shown current)
    checked_at: datetime
    fails: int
    unknown: int


@dataclass(frozen=True, slots=True)
class RunMark:
    """What a run's current verdicts must have been computed against."""

    last_seq: int
    policy_hash: str | None  # the pack in force when the run started (None: none was)


def verdict_sets(conn: psycopg.Connection) -> dict[uuid.UUID, list[VerdictSet]]:
    """Stored verdict sets per run; a run whose rows were deleted is simply absent."""
    out: dict[uuid.UUID, list[VerdictSet]] = {}
    for run_id, policy, version, through, any_null, checked, fails, unknown in conn.execute(
        query("board_verdict_sets")
    ).fetchall():
        seq = None if any_null or through is None else int(through)
        found = VerdictSet(str(policy), str(version), seq, checked, int(fails), int(unknown))
        out.setdefault(run_id, []).append(found)
    return out


def run_marks(conn: psycopg.Connection) -> dict[uuid.UUID, RunMark]:
    """Per run with a run.started: its last event's seq and the pack in force when it started."""
    rows = conn.execute(query("board_run_marks")).fetchall()
    return {r[0]: RunMark(int(r[1]), str(r[2]) if r[2] else None) for r in rows}


def open_approvals(conn: psycopg.Connection, logs: Sequence[str]) -> list[OpenApproval]:
    """Approval requests no decision answers yet in the logs `logs`, in log order."""
    decided: set[tuple[str, str]] = set()
    requested: list[OpenApproval] = []
    params = {"origins": list(logs)}
    for origin, seq, kind, body in conn.execute(query("board_approval_events"), params):
        doc = orjson.loads(bytes(body))
        data = doc.get("data") or {}
        key = (str(doc.get("run_id")), str(data.get("approval_id")))
        if kind == "approval.decided":
            decided.add(key)
            continue
        requested.append(
            OpenApproval(
                origin,
                int(seq),
                key[0],
                key[1],
                str(data.get("tool", "")),
                tuple(data.get("required_roles") or ()),
                str(data.get("reason") or ""),
            )
        )
    return [a for a in requested if (a.run_id, a.approval_id) not in decided]


def origin_size(conn: psycopg.Connection, origin: str) -> int:
    """Number of events in one log (its next seq)."""
    row = conn.execute(query("board_origin_size"), (origin,)).fetchone()
    return int(row[0]) if row else 0


def events_in_range(
    conn: psycopg.Connection, origin: str, start: int, stop: int
) -> list[StoredEvent]:
    """Events of `origin` with start <= seq < stop, in seq order."""
    return _stored(conn.execute(query("board_events_in_range"), (origin, start, stop)).fetchall())


def events_by_keys(conn: psycopg.Connection, keys: Sequence[EventKey]) -> list[StoredEvent]:
    """The events at `keys` (in no particular order; missing keys are simply absent)."""
    if not keys:
        return []
    params = ([k[0] for k in keys], [k[1] for k in keys])
    return _stored(conn.execute(query("board_events_by_keys"), params).fetchall())


def seq_at_time(conn: psycopg.Connection, origin: str, when: datetime) -> int | None:
    """Seq of the first event of `origin` at or after `when` (event time), or None."""
    row = conn.execute(query("board_seq_at_time"), (origin, when)).fetchone()
    return int(row[0]) if row else None


def event_keys(
    conn: psycopg.Connection,
    *,
    runs: Sequence[uuid.UUID] = (),
    origin: str = "",
    condition: str = "none",
    value: str = "",
    limit: int,
) -> list[EventKey]:
    """Keys of the events of `runs` (else of `origin`) under one condition, by event time.

    Conditions: none, text / not_text (substring of the canonical JSON, case-insensitive),
    agent, user, tool, prompt, model (exact field value), resource (listed in data.resources),
    type. At most `limit` keys.
    """
    when = "field" if condition in _FIELD_PATHS else condition
    statement = sql.SQL(query("board_event_keys")).format(
        scope=sql.SQL(query("board_scope_runs" if runs else "board_scope_origin")),
        condition=sql.SQL(query("board_when_" + when)),
    )
    params: dict[str, Any] = {
        "runs": list(runs),
        "origin": origin,
        "path": _FIELD_PATHS.get(condition, []),
        "value": f"%{value}%" if condition in ("text", "not_text") else value,
        "limit": limit,
    }
    rows = conn.execute(statement, params).fetchall()
    return [(str(o), int(s), t) for o, s, t in rows]


def event_at(conn: psycopg.Connection, origin: str, seq: int) -> StoredEvent | None:
    """The event at one log position, or None."""
    found = _stored(conn.execute(query("board_event_at"), (origin, seq)).fetchall())
    return found[0] if found else None


def run_leaf(conn: psycopg.Connection, run_id: uuid.UUID, run_seq: int) -> bytes | None:
    """Stored leaf hash of one event of a run (by run position), or None if it is missing."""
    row = conn.execute(query("board_run_leaf"), (run_id, run_seq)).fetchone()
    return bytes(row[0]) if row else None


def linked_events(
    conn: psycopg.Connection, run_id: uuid.UUID, event_id: uuid.UUID
) -> list[StoredEvent]:
    """Decisions, undo steps, annotations and stop requests of a run, or naming `event_id`."""
    params = {"run": run_id, "needle": f"%{event_id}%"}
    return _stored(conn.execute(query("board_linked_events"), params).fetchall())


def run_starts_before(
    conn: psycopg.Connection, origin: str, seq: int, limit: int = 500
) -> list[bytes]:
    """Bodies of the newest `run.started` events of `origin` before `seq`, newest first."""
    rows = conn.execute(query("board_run_starts_before"), (origin, seq, limit)).fetchall()
    return [bytes(r[0]) for r in rows]


def latest_policy(conn: psycopg.Connection) -> StoredEvent | None:
    """The most recently recorded policy.published event, or None."""
    found = _stored(conn.execute(query("board_latest_policy")).fetchall())
    return found[0] if found else None


def events_of_type(conn: psycopg.Connection, kind: str) -> list[StoredEvent]:
    """Every event of one type, in seq order."""
    return _stored(conn.execute(query("board_events_of_type"), (kind,)).fetchall())


def watch_appended(
    conn: psycopg.Connection,
    keep_going: Callable[[], bool],
    on_listening: Callable[[], None] | None = None,
) -> Iterator[tuple[str, int]]:
    """(origin, size) for each sequencer notification while `keep_going()` holds.

    `conn` must be in autocommit mode (notifications arrive between transactions). The loop
    wakes every half second to ask `keep_going`, so its caller can stop it promptly.
    `on_listening()` is called once LISTEN is in effect: anything appended after it is
    notified, so a caller that reads the log then has missed nothing (the TUI's board reads
    after it on start-up, and re-reads after it on a reconnection). A lost connection raises
    psycopg.OperationalError out of the iteration; the caller decides whether to reconnect.
    """
    conn.execute(query("board_listen_appended"))
    if on_listening is not None:
        on_listening()
    while keep_going():
        for note in conn.notifies(timeout=0.5, stop_after=64):
            origin, _, size = note.payload.rpartition(" ")
            if origin and size.isdigit():
                yield origin, int(size)
