"""Write one tabletop exercise event: the write side of ledger.exercises.

Its own module so a read-only session (`ledger tui --readonly`, the report, the bundle) never
imports the write door: only the exercise console's write worker imports this, behind
`LedgerApp.writer()`, which refuses in read-only mode.
"""

from __future__ import annotations

import uuid

import psycopg
from pydantic import BaseModel

from ledger.config import Settings
from ledger.event_exercise import EXERCISE_EVENT_TYPES
from ledger.exercises import exercise_tenant
from ledger.store.door import append, single_event

__all__ = ["record_event"]


def record_event(
    conn: psycopg.Connection,
    settings: Settings,
    name: str,
    kind: str,
    data: BaseModel,
    *,
    who: str,
    occurred_at: str | None = None,
    via: str = "tui",
) -> uuid.UUID:
    """Append one exercise event (a single-event run in `exercise-<name>`), sequenced; its id.

    `occurred_at` is the exercise clock's reading (injectable), so a resumed exercise's clock
    continues from the record; None is now."""
    if kind not in EXERCISE_EVENT_TYPES:
        raise ValueError(f"not an exercise event type: {kind!r}")
    event = single_event(
        kind,
        data,
        tenant=exercise_tenant(name),
        principal={"initiating_user": who},
        source={"framework": "python", "integration": via},
    )
    if occurred_at is not None:
        event = event.model_copy(update={"occurred_at": occurred_at})
    append(conn, [event], settings)
    return event.event_id
