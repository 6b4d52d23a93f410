"""Writers submit events to the intake table and get a receipt once they are durable.

A receipt means the event is committed in PostgreSQL (autocommit insert), not yet sequenced:
that is the point at which a side-effecting tool may run (intent before action). `event_id` is
the idempotency key, so a writer that retries after a timeout cannot store an event twice.
Events are validated and canonicalised here, which is the only place bytes enter the ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg.pq import TransactionStatus

from ledger.canonical import ensure_canonical, ensure_storable
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.events import EventBase, encode_event, leaf_hash

__all__ = [
    "MAX_EVENT_BYTES",
    "EncodedEvent",
    "Receipt",
    "encode_for_intake",
    "submit",
    "submit_encoded",
]

MAX_EVENT_BYTES = 1_048_576


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event in canonical bytes, ready for intake."""

    event_id: uuid.UUID
    origin: str
    run_id: uuid.UUID
    run_seq: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of durable intake: the event id, its leaf hash, and whether it was a resubmission.

    `live_version` is the live-control version (`ledger_live_version()`) read by the same
    statement: the hooks compare it with their stop cache, so learning that stops changed costs
    no extra round trip (issue 16).
    """

    event_id: uuid.UUID
    leaf_hash: bytes
    duplicate: bool
    live_version: int | None = None


def encode_for_intake(event: EventBase, settings: Settings) -> EncodedEvent:
    """Canonicalise one event and attach its log origin (one origin per tenant)."""
    body = encode_event(event)
    if len(body) > MAX_EVENT_BYTES:
        raise ValueError(
            f"event is {len(body)} bytes; the limit is {MAX_EVENT_BYTES} "
            "(store large content elsewhere and record its hash)"
        )
    return EncodedEvent(
        event.event_id, settings.origin(event.tenant), event.run_id, event.run_seq, body
    )


def submit_encoded(
    conn: psycopg.Connection, items: Sequence[EncodedEvent], *, check_canonical: bool = True
) -> list[Receipt]:
    """Insert already-encoded events in one statement; return when they are committed.

    Bodies that are not RFC 8785 canonical (duplicate keys, other number forms, whitespace,
    escapes) are refused with `CanonicalError`: the same parsed event must have one byte form.
    `submit` skips the check for bytes it has just produced with `encode_event`. Content that
    PostgreSQL cannot hold in text/jsonb (U+0000) is refused always, before anything is stored.
    """
    if not items:
        return []
    for item in items:
        if check_canonical:
            ensure_canonical(item.body)
        ensure_storable(item.body)
    params = (
        [item.event_id for item in items],
        [item.origin for item in items],
        [item.run_id for item in items],
        [item.run_seq for item in items],
        [item.body for item in items],
    )
    # One statement is its own transaction on an autocommit connection: one round trip instead
    # of BEGIN/INSERT/COMMIT. Inside a caller's transaction, a savepoint keeps it all-or-nothing
    # (and the receipt then means durable only once the caller commits).
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        row = conn.execute(query("submit_events"), params).fetchone()
    else:
        with conn.transaction():
            row = conn.execute(query("submit_events"), params).fetchone()
    assert row is not None  # the statement always returns one row
    inserted, version = set(row[0]), int(row[1])
    return [
        Receipt(item.event_id, leaf_hash(item.body), item.event_id not in inserted, version)
        for item in items
    ]


def submit(
    conn: psycopg.Connection, events: Sequence[EventBase], settings: Settings | None = None
) -> list[Receipt]:
    """Validate, canonicalise and durably submit events; one receipt per event, in order."""
    resolved = settings or Settings.from_env()
    return submit_encoded(
        conn, [encode_for_intake(event, resolved) for event in events], check_canonical=False
    )
