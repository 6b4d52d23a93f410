"""Load the events a plan (or a coverage report) is computed over.

Scope is a set of runs or a time window. A window selects every run that has a tool call in
it, whole (so intent/outcome pairs and approvals are never cut in half). `others` are the tool
calls of runs outside the scope that happened after the scope began: the ledger's view of
"someone else touched this resource since", which drift detection needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import psycopg

from ledger.events import EventBase
from ledger.store import read

__all__ = ["load_others", "load_scope", "load_window_calls"]


def load_scope(
    conn: psycopg.Connection,
    run_ids: Sequence[uuid.UUID],
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[uuid.UUID], list[EventBase]]:
    """(run ids, their events) for explicit runs plus every run with tool calls in the window."""
    ids = list(dict.fromkeys(run_ids))
    if since is not None or until is not None:
        given = set(ids)
        ids += [r for r in read.runs_with_tool_calls(conn, since, until) if r not in given]
    return ids, [s.event for s in read.runs_events(conn, ids)]


def load_others(
    conn: psycopg.Connection, run_ids: Sequence[uuid.UUID], events: Sequence[EventBase]
) -> list[EventBase]:
    """Tool calls by other runs since the earliest event in scope."""
    if not events:
        return []
    start = min(e.occurred_at for e in events)
    return [s.event for s in read.tool_calls_since(conn, start, run_ids)]


def load_window_calls(
    conn: psycopg.Connection, since: datetime | None, until: datetime | None
) -> list[EventBase]:
    """Every event of runs with tool calls in the window (for coverage)."""
    return [s.event for s in read.runs_events(conn, read.runs_with_tool_calls(conn, since, until))]
