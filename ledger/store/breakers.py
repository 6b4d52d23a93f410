"""The reads `ledger serve`'s circuit breakers follow the log with (replay.policy.breakers).

Why its own reads: a breaker counts pre-call decisions as they are sequenced, in every log, on
its own connection beside the sequencer; it needs each log's size (where to start, what a poll
compares against), the decisions after a position with their run's first seq (the pack in
force is chosen by it), and the latest stop of a target (no second stop while one is in force;
after a lift the window starts over). All run as the serving role (owner or operator).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ledger.db.sqlfiles import query

__all__ = [
    "Decision",
    "LastStop",
    "decisions_after",
    "heads",
    "last_stop",
    "listen",
    "try_lead",
    "wakeups",
]


@dataclass(frozen=True, slots=True)
class Decision:
    """One sequenced policy.decided: where, when the sequencer recorded it, its body."""

    seq: int
    recorded_at: datetime
    body: bytes
    first_seq: int | None  # the seq of its run's first event (None: not in this log)


@dataclass(frozen=True, slots=True)
class LastStop:
    """The latest stop of one target in one log."""

    stop_seq: int
    lifted_seq: int | None


def heads(conn: psycopg.Connection) -> dict[str, int]:
    """origin -> size of every log."""
    return {origin: int(size) for origin, size in conn.execute(query("breaker_heads"))}


def decisions_after(
    conn: psycopg.Connection, origin: str, position: int, limit: int = 500
) -> list[Decision]:
    """Decisions of `origin` with seq >= `position`, oldest first, at most `limit`."""
    rows = conn.execute(query("breaker_decisions"), (origin, position, limit)).fetchall()
    return [Decision(int(s), at, bytes(body), None if f is None else int(f))
            for s, at, body, f in rows]  # fmt: skip


def last_stop(conn: psycopg.Connection, origin: str, target: str) -> LastStop | None:
    """The latest stop of exactly `target` in `origin`, or None."""
    row = conn.execute(query("breaker_last_stop"), (origin, target)).fetchone()
    return None if row is None else LastStop(int(row[0]), None if row[1] is None else int(row[1]))


def try_lead(conn: psycopg.Connection) -> bool:
    """Take the breakers' session lock on `conn` (held until it closes); False if another
    `ledger serve` holds it."""
    row = conn.execute(query("breaker_lock")).fetchone()
    return bool(row and row[0])


def listen(conn: psycopg.Connection) -> None:
    """LISTEN ledger_appended on `conn` (autocommit; notifications arrive between statements)."""
    conn.execute(query("breaker_listen"))


def wakeups(conn: psycopg.Connection, wait: float, keep_going: Callable[[], bool]) -> Iterator[str]:
    """Origins the sequencer announces on `conn` (after `listen`) while `keep_going()`; an empty
    string every `wait` seconds without one, so the caller polls (a lost notification costs at
    most one poll interval)."""
    while keep_going():
        got = False
        for note in conn.notifies(timeout=wait, stop_after=64):
            got = True
            origin, _, size = note.payload.rpartition(" ")
            if origin and size.isdigit():
                yield origin
        if not got:
            yield ""
