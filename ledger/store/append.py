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
from decimal import Decimal
from typing import Any

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
    "RunTotals",
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
    # running-total deltas (cost_usd, total_tokens, unknown_cost_calls) of an enforced run's
    # event: the database adds them once per inserted event (migration 0017); None: untracked
    deltas: tuple[Decimal, int, int] | None = None


RunTotals = tuple[Decimal, int, int]


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
    # the database's running totals of the event's run after this batch (tracked runs only)
    run_totals: RunTotals | None = None


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
    params: tuple[list[Any], ...] = (
        [item.event_id for item in items],
        [item.origin for item in items],
        [item.run_id for item in items],
        [item.run_seq for item in items],
        [item.body for item in items],
    )
    tracked = any(item.deltas is not None for item in items)
    if tracked:
        params = (*params, *_delta_arrays(items))
    name = "submit_events_totals" if tracked else "submit_events"
    # One statement is its own transaction on an autocommit connection: one round trip instead
    # of BEGIN/INSERT/COMMIT. Inside a caller's transaction, a savepoint keeps it all-or-nothing
    # (and the receipt then means durable only once the caller commits).
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        row = conn.execute(query(name), params).fetchone()
    else:
        with conn.transaction():
            row = conn.execute(query(name), params).fetchone()
    assert row is not None  # the statement always returns one row
    inserted, version = set(row[0]), int(row[1])
    totals: dict[uuid.UUID, RunTotals] = {}
    if tracked and row[2]:
        totals = {run: (Decimal(cost), int(tokens), int(unknown))
                  for run, cost, tokens, unknown in zip(row[2], row[3], row[4], row[5],
                                                        strict=True)}
    return [
        Receipt(item.event_id, leaf_hash(item.body), item.event_id not in inserted, version,
                totals.get(item.run_id) if item.deltas is not None else None)
        for item in items
    ]


def _delta_arrays(items: Sequence[EncodedEvent]) -> tuple[list[Any], list[Any], list[Any]]:
    """The per-event deltas as three arrays (NULL for events of untracked runs)."""
    return ([i.deltas[0] if i.deltas else None for i in items],
            [i.deltas[1] if i.deltas else None for i in items],
            [i.deltas[2] if i.deltas else None for i in items])


def submit(
    conn: psycopg.Connection, events: Sequence[EventBase], settings: Settings | None = None
) -> list[Receipt]:
    """Validate, canonicalise and durably submit events; one receipt per event, in order."""
    resolved = settings or Settings.from_env()
    return submit_encoded(
        conn, [encode_for_intake(event, resolved) for event in events], check_canonical=False
    )
