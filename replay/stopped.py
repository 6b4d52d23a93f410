"""Who stopped a run: the `stopped_by` its run.ended carries (issue 16), for replay's display.

Why a lookup and not a fold field: only a run that ended `stopped` has one, and the fold's fast
decoder (replay.fastdecode) stays as small as the checks need; `ledger replay` reads the one
run.ended event by id when the status says `stopped`.
"""

from __future__ import annotations

import uuid

import psycopg

from ledger.events import StopRef, decode_event
from ledger.store.read import event_by_id
from replay.model import RunState

__all__ = ["describe", "stopped_by"]


def stopped_by(conn: psycopg.Connection, state: RunState) -> StopRef | None:
    """The stop that ended this run, as its run.ended recorded it (None if not stopped)."""
    run = state.run
    if run.status != "stopped" or run.ended_event_id is None:
        return None
    stored = event_by_id(conn, uuid.UUID(run.ended_event_id))
    if stored is None:
        return None
    data = decode_event(stored.body).data
    ref = getattr(data, "stopped_by", None)
    return ref if isinstance(ref, StopRef) else None


def describe(ref: StopRef) -> str:
    """One line: `stopped by alice (registry) via agent:support@1.2: refund storm`."""
    line = f"stopped by {ref.requested_by} ({ref.authority or 'asserted'}) via {ref.target}"
    return line + (f": {ref.reason}" if ref.reason else "")
