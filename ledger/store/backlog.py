"""Reads behind the intake-backlog check: the store owns the SQL (sql/queries/backlog.sql).

"Is a sequencer running" is the age of `ledger serve`'s heartbeat in ledger_sequencer_state, on
the database clock (ledger.store.liveness): only the sequencer role and the owner may write it.
An advisory lock would not do: any writer can take one (issue 15 item 1).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["intake_backlog", "reject_reasons"]


def intake_backlog(conn: psycopg.Connection) -> tuple[int, float | None, bool]:
    """Events waiting in intake, the oldest one's age in seconds, and whether a sequencer lives."""
    row = conn.execute(query("intake_backlog")).fetchone()
    assert row is not None  # an aggregate always returns one row
    count, age, running = row
    return int(count), (float(age) if age is not None else None), bool(running)


def reject_reasons(
    conn: psycopg.Connection, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The sequencer's reason for each of these event ids it rejected (others are left out)."""
    rows = conn.execute(query("reject_reasons"), (list(event_ids),)).fetchall()
    return {event_id: str(reason) for event_id, reason in rows}
