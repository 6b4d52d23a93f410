"""Published principal registries of one log, in log order (issue 14).

Registries are single-event `registry.published` runs, so the registry in force is itself in
the hashed log. This only reads them; whether one is trusted is decided by
ledger.authority.history against the trust root the caller brings.
"""

from __future__ import annotations

import psycopg

from ledger.authority.history import PublishedRegistry
from ledger.db.sqlfiles import query

__all__ = ["PublishedRegistry", "published_registries"]


def published_registries(conn: psycopg.Connection, origin: str) -> list[PublishedRegistry]:
    """Every registry published in `origin`'s log, by seq (re-validated by the caller)."""
    rows = conn.execute(query("published_registries"), (origin,)).fetchall()
    if not rows:  # a ledger without registries (the embedded default) skips the event models
        return []
    from ledger.events import decode_event

    out = []
    for seq, body in rows:
        event = decode_event(bytes(body))
        data = event.data.model_dump(mode="json")
        recorded = {"document": data["document"], "signatures": data["signatures"]}
        out.append(PublishedRegistry(int(seq), event.event_id, recorded))
    return out
