"""Write undo.* events to the ledger and keep the derived undo tables in step with them.

Plan creation and each approval are single-event runs (fresh run_id, run_seq 0). One apply of
a plan is one chained "undo run": every undo.step.started/ended it writes extends the same hash
chain, so an auditor can prove that no step record of that apply was dropped or reordered.
Events are submitted through the write door (durable receipt) before the compensator runs:
intent before action.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.events import EventBase, encode_event, leaf_hash, make_event
from ledger.store import undo as store
from ledger.store.door import append, single_event
from replay.undo.model import UndoPlan, plan_file_bytes

__all__ = ["UndoRun", "record_event", "record_plan"]


def _principal(actor: str | None) -> dict[str, str]:
    return {"initiating_user": actor} if actor else {}


def record_event(
    conn: psycopg.Connection,
    settings: Settings,
    type_name: str,
    data: Mapping[str, Any],
    actor: str | None,
) -> EventBase:
    """Append one undo.* event as its own run and sequence it."""
    event = single_event(type_name, data, principal=_principal(actor))
    append(conn, [event], settings)
    return event


def record_plan(
    conn: psycopg.Connection, settings: Settings, plan: UndoPlan, actor: str | None
) -> bool:
    """Store the plan and append undo.plan.created once per digest; True if new."""
    if store.plan_recorded(conn, plan.digest):
        return False
    event = record_event(
        conn,
        settings,
        "undo.plan.created",
        {
            "plan_digest": plan.digest,
            "status": "draft",
            "details": {
                "plan_id": plan.plan_id,
                "scope": plan.scope,
                "summary": plan.summary,
                "steps": len(plan.steps),
            },
        },
        actor,
    )
    store.insert_plan(conn, plan.digest, plan.plan_id, plan_file_bytes(plan), event.event_id)
    return True


class UndoRun:
    """One chained run of undo.step.* events for one apply of a plan."""

    def __init__(self, conn: psycopg.Connection, settings: Settings, actor: str | None) -> None:
        self.conn, self.settings, self.actor = conn, settings, actor
        self.run_id = uuid.uuid4()
        self.seq = 0
        self.prev: str | None = None

    def emit(self, type_name: str, data: Mapping[str, Any]) -> EventBase:
        """Submit the next event of this run (durable now, sequenced by `finish`)."""
        event = make_event(
            type_name,
            run_id=self.run_id,
            run_seq=self.seq,
            prev_run_hash=self.prev,
            data=data,
            principal=_principal(self.actor),
        )
        append(self.conn, [event], self.settings, sequence=False)
        self.prev = leaf_hash(encode_event(event)).hex()
        self.seq += 1
        return event

    def finish(self) -> None:
        if self.seq:
            append(self.conn, [], self.settings)
