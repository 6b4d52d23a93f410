"""Write undo.* events to the ledger and keep the derived undo tables in step with them.

Plan creation and each approval are single-event runs (fresh run_id, run_seq 0). One apply of
a plan is one chained "undo run": every undo.step.started/ended it writes extends the same hash
chain, so an auditor can prove that no step record of that apply was dropped or reordered.
Events are submitted (durable receipt) before the compensator runs: intent before action.
"""

from __future__ import annotations

import uuid
from typing import Any, LiteralString

import psycopg
from psycopg.types.json import Jsonb

from ledger.config import Settings
from ledger.events import EventBase, Principal, encode_event, leaf_hash, make_event
from ledger.store.append import submit
from ledger.store.sequencer import try_sequence
from replay.undo.model import UndoPlan, plan_file_bytes

__all__ = ["UndoRun", "record_plan", "single_event"]

INSERT_PLAN: LiteralString = """
INSERT INTO undo_plans (plan_digest, plan_id, body, event_id) VALUES (%s, %s, %s, %s)
ON CONFLICT (plan_digest) DO NOTHING
"""
PLAN_EXISTS: LiteralString = "SELECT event_id FROM undo_plans WHERE plan_digest = %s"
UPSERT_STEP: LiteralString = """
INSERT INTO undo_steps (idempotency_key, plan_digest, step_id, target_action_id, status, attempts,
                        last_error, result, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (idempotency_key) DO UPDATE SET
    plan_digest = EXCLUDED.plan_digest, step_id = EXCLUDED.step_id, status = EXCLUDED.status,
    attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, result = EXCLUDED.result,
    updated_at = now()
"""
STEP_STATES: LiteralString = """
SELECT idempotency_key, status, attempts, last_error FROM undo_steps
WHERE idempotency_key = ANY(%s)
"""


def _principal(actor: str | None) -> Principal:
    return Principal(initiating_user=actor) if actor else Principal()


def single_event(  # noqa: PLR0917 - mirrors make_event
    conn: psycopg.Connection,
    settings: Settings,
    type_name: str,
    data: dict[str, Any],
    actor: str | None,
    tenant: str = "default",
) -> EventBase:
    """Append one undo.* event as its own run and sequence it."""
    event = make_event(
        type_name,
        run_id=uuid.uuid4(),
        run_seq=0,
        data=data,
        principal=_principal(actor),
        tenant=tenant,
    )
    submit(conn, [event], settings)
    try_sequence(conn, settings, wait=True)
    return event


def record_plan(
    conn: psycopg.Connection, settings: Settings, plan: UndoPlan, actor: str | None
) -> bool:
    """Store the plan and append undo.plan.created once per digest; True if new."""
    if conn.execute(PLAN_EXISTS, (plan.digest,)).fetchone() is not None:
        return False
    event = single_event(
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
    conn.execute(INSERT_PLAN, (plan.digest, plan.plan_id, plan_file_bytes(plan), event.event_id))
    return True


class UndoRun:
    """One chained run of undo.step.* events for one apply of a plan."""

    def __init__(self, conn: psycopg.Connection, settings: Settings, actor: str | None) -> None:
        self.conn, self.settings, self.actor = conn, settings, actor
        self.run_id = uuid.uuid4()
        self.seq = 0
        self.prev: str | None = None

    def emit(self, type_name: str, data: dict[str, Any]) -> EventBase:
        event = make_event(
            type_name,
            run_id=self.run_id,
            run_seq=self.seq,
            prev_run_hash=self.prev,
            data=data,
            principal=_principal(self.actor),
        )
        submit(self.conn, [event], self.settings)
        self.prev = leaf_hash(encode_event(event)).hex()
        self.seq += 1
        return event

    def finish(self) -> None:
        if self.seq:
            try_sequence(self.conn, self.settings, wait=True)


def save_step(  # noqa: PLR0917 - one column each
    conn: psycopg.Connection,
    plan: UndoPlan,
    key: str,
    step_id: str,
    target: str,
    status: str,
    attempts: int,
    error: str | None,
    result: Any,
) -> None:
    conn.execute(
        UPSERT_STEP,
        (
            key,
            plan.digest,
            step_id,
            target,
            status,
            attempts,
            error,
            Jsonb(result) if result is not None else None,
        ),
    )


def step_states(
    conn: psycopg.Connection, keys: list[str]
) -> dict[str, tuple[str, int, str | None]]:
    return {k: (s, int(a), e) for k, s, a, e in conn.execute(STEP_STATES, (keys,)).fetchall()}
