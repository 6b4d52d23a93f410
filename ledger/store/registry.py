"""Published principal registries of one log, in log order (issue 14).

Registries are single-event `registry.published` runs, so the registry in force is itself in
the hashed log. This only reads them; whether one is trusted is decided by
ledger.authority.history against the trust root the caller brings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from ledger.db.sqlfiles import query
from ledger.events import decode_event

__all__ = ["PublishedRegistry", "published_registries"]


@dataclass(frozen=True, slots=True)
class PublishedRegistry:
    """One registry.published event: where it sits and the signed document it carries."""

    seq: int
    event_id: uuid.UUID
    recorded: dict[str, Any]  # {"document": ..., "signatures": [...]} as stored


def published_registries(conn: psycopg.Connection, origin: str) -> list[PublishedRegistry]:
    """Every registry published in `origin`'s log, by seq (re-validated by the caller)."""
    rows = conn.execute(query("published_registries"), (origin,)).fetchall()
    out = []
    for seq, body in rows:
        event = decode_event(bytes(body))
        data = event.data.model_dump(mode="json")
        recorded = {"document": data["document"], "signatures": data["signatures"]}
        out.append(PublishedRegistry(int(seq), event.event_id, recorded))
    return out
