"""The undo projection next to the undo.* events: plans, approvals, step states (migration 0003).

The ledger's undo.* events are the record; these tables let the executor find a plan's
approvals quickly and run each compensation at most once per idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ledger.db.sqlfiles import query

__all__ = [
    "ApprovalRow",
    "StepRow",
    "StepState",
    "approvals",
    "insert_approval",
    "insert_plan",
    "plan_lock",
    "plan_recorded",
    "save_step",
    "step_states",
]


@dataclass(frozen=True, slots=True)
class StepState:
    """Where one compensation (by idempotency key) stands."""

    status: str
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True)
class StepRow:
    """A step's new state, keyed by its idempotency key."""

    idempotency_key: str
    plan_digest: str
    step_id: str
    target_action_id: str
    status: str
    attempts: int = 0
    error: str | None = None
    result: Any = None  # whatever the compensator returned (JSON)


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    """A stored approval of a plan digest (its signature is checked by the reader)."""

    approver: str
    roles: tuple[str, ...]
    vkey: str
    signature: bytes


def plan_recorded(conn: psycopg.Connection, plan_digest: str) -> bool:
    """True if a plan with this digest is already stored."""
    return conn.execute(query("undo_plan_exists"), (plan_digest,)).fetchone() is not None


def insert_plan(
    conn: psycopg.Connection, plan_digest: str, plan_id: str, body: bytes, event_id: uuid.UUID
) -> None:
    """Store a plan file's bytes under its digest (the first one stored wins)."""
    conn.execute(query("insert_undo_plan"), (plan_digest, plan_id, body, event_id))


def save_step(conn: psycopg.Connection, row: StepRow) -> None:
    """Insert or update one step's state."""
    result = Jsonb(row.result) if row.result is not None else None
    conn.execute(
        query("upsert_undo_step"),
        (
            row.idempotency_key,
            row.plan_digest,
            row.step_id,
            row.target_action_id,
            row.status,
            row.attempts,
            row.error,
            result,
        ),
    )


def step_states(conn: psycopg.Connection, keys: Sequence[str]) -> dict[str, StepState]:
    """The stored state of each of these idempotency keys that has one."""
    rows = conn.execute(query("undo_step_states"), (list(keys),)).fetchall()
    return {k: StepState(s, int(a), e) for k, s, a, e in rows}


def insert_approval(  # noqa: PLR0917 - one column each
    conn: psycopg.Connection,
    plan_digest: str,
    approver: str,
    roles: Sequence[str],
    vkey: str,
    signature: bytes,
    event_id: uuid.UUID,
) -> None:
    """Store an approval (one per approver and digest; a repeat is ignored)."""
    conn.execute(
        query("insert_undo_approval"),
        (plan_digest, approver, list(roles), vkey, signature, event_id),
    )


def approvals(conn: psycopg.Connection, plan_digest: str) -> list[ApprovalRow]:
    """Stored approvals of a digest, by approver."""
    rows = conn.execute(query("undo_approvals"), (plan_digest,)).fetchall()
    return [ApprovalRow(a, tuple(r), v, bytes(s)) for a, r, v, s in rows]


@contextmanager
def plan_lock(conn: psycopg.Connection, plan_digest: str) -> Iterator[None]:
    """Hold a session advisory lock on the plan: one apply of a plan at a time."""
    conn.execute(query("lock_undo_plan"), (plan_digest,))
    try:
        yield
    finally:
        conn.execute(query("unlock_undo_plan"), (plan_digest,))
