"""Reads behind the intake-backlog check: the store owns the SQL (sql/queries/backlog.sql).

"Is a sequencer running" is answered by PostgreSQL itself, not by a heartbeat a writer could
forge or a clock that could drift: `ledger serve` holds a shared session-level advisory lock for
as long as its connection lives (a crashed serve releases it with its session), and every batch
holds the transaction-level sequencer lock. `pg_locks` shows both to any role.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["hold_serve_lock", "intake_backlog", "reject_reasons", "release_serve_lock"]


def intake_backlog(conn: psycopg.Connection) -> tuple[int, float | None, bool]:
    """Events waiting in intake, the oldest one's age in seconds, and whether a sequencer lives."""
    row = conn.execute(query("intake_backlog")).fetchone()
    assert row is not None  # an aggregate always returns one row
    count, age, running = row
    return int(count), (float(age) if age is not None else None), bool(running)


def hold_serve_lock(conn: psycopg.Connection) -> None:
    """Announce a live sequencer for the life of this session (see module docstring)."""
    conn.execute(query("hold_serve_lock"))


def release_serve_lock(conn: psycopg.Connection) -> None:
    """Withdraw the announcement; a dead session drops it by itself, so errors are moot here."""
    if conn.closed:
        return
    try:
        conn.execute(query("release_serve_lock"))
    except psycopg.Error:
        pass  # the connection is gone or broken: PostgreSQL released the lock with the session


def reject_reasons(
    conn: psycopg.Connection, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The sequencer's reason for each of these event ids it rejected (others are left out)."""
    rows = conn.execute(query("reject_reasons"), (list(event_ids),)).fetchall()
    return {event_id: str(reason) for event_id, reason in rows}
