"""Load the events a plan (or a coverage report) is computed over.

Scope is a set of runs or a time window. A window selects every run that has a tool call in
it, whole (so intent/outcome pairs and approvals are never cut in half). `others` are the tool
calls of runs outside the scope that happened after the scope began: the ledger's view of
"someone else touched this resource since", which drift detection needs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import LiteralString

import psycopg

from ledger.events import EventBase, decode_event

__all__ = ["load_others", "load_scope", "load_window_calls"]

RUN_BODIES: LiteralString = """
SELECT body FROM ledger_events WHERE run_id = ANY(%s) ORDER BY run_id, run_seq
"""
RUNS_IN_WINDOW: LiteralString = """
SELECT DISTINCT run_id FROM ledger_events
WHERE type IN ('tool.call.started', 'tool.call.ended')
  AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)
"""
OTHERS: LiteralString = """
SELECT body FROM ledger_events
WHERE type IN ('tool.call.started', 'tool.call.ended') AND occurred_at >= %s
  AND NOT (run_id = ANY(%s)) ORDER BY seq
"""


def _decode(rows: list[tuple[bytes]]) -> list[EventBase]:
    return [decode_event(bytes(r[0])) for r in rows]


def load_scope(
    conn: psycopg.Connection,
    run_ids: list[uuid.UUID],
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[uuid.UUID], list[EventBase]]:
    """(run ids, their events) for explicit runs plus every run with tool calls in the window."""
    ids = list(dict.fromkeys(run_ids))
    if since is not None or until is not None:
        found = conn.execute(RUNS_IN_WINDOW, {"since": since, "until": until}).fetchall()
        ids += sorted({r[0] for r in found} - set(ids), key=str)
    return ids, _decode(conn.execute(RUN_BODIES, (ids,)).fetchall())


def load_others(
    conn: psycopg.Connection, run_ids: list[uuid.UUID], events: list[EventBase]
) -> list[EventBase]:
    """Tool calls by other runs since the earliest event in scope."""
    if not events:
        return []
    start = min(e.occurred_at for e in events)
    return _decode(conn.execute(OTHERS, (start, run_ids)).fetchall())


def load_window_calls(
    conn: psycopg.Connection, since: datetime | None, until: datetime | None
) -> list[EventBase]:
    """Every event of runs with tool calls in the window (for coverage)."""
    found = conn.execute(RUNS_IN_WINDOW, {"since": since, "until": until}).fetchall()
    ids = sorted({r[0] for r in found}, key=str)
    return _decode(conn.execute(RUN_BODIES, (ids,)).fetchall())
