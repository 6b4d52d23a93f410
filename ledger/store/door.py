"""The one write door: every writer of events (hooks, ingest, undo records, exports, operator
actions, key operations) appends through `append`, so validation, canonical bytes, idempotency
and sequencing are decided in one place and a new writer cannot forget a step.

`single_event` builds the non-run events (policy.published, annotation, stop request, key.*,
export.created): each is a run of its own with `run_seq` 0, as DESIGN §3 prescribes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ledger import ids
from ledger.config import Settings
from ledger.events import EventBase, make_event
from ledger.store.append import EncodedEvent, Receipt, submit, submit_encoded
from ledger.store.confine import can_sequence
from ledger.store.sequencer import log_signer, try_sequence

__all__ = ["Appended", "append", "append_encoded", "single_event"]


@dataclass(frozen=True, slots=True)
class Appended:
    """What `append` did: one receipt per event, in order, and how many events it sequenced."""

    receipts: list[Receipt]
    sequenced: int

    @property
    def event_ids(self) -> list[uuid.UUID]:
        return [r.event_id for r in self.receipts]

    @property
    def live_version(self) -> int | None:
        """The live-control version the append statement read (None when nothing was sent)."""
        return self.receipts[0].live_version if self.receipts else None


def append(
    conn: psycopg.Connection,
    events: Sequence[EventBase],
    settings: Settings | None = None,
    *,
    sequence: bool = True,
    wait: bool = True,
) -> Appended:
    """Durably submit `events` and, with `sequence=True`, drain intake into the log now.

    Hooks pass `sequence=False`: they need durability before a tool runs, not a log position,
    and leave sequencing to `ledger serve` (or the next command that sequences). `wait=False`
    sequences only if no other sequencer holds leadership (that one will take the events).
    """
    resolved = settings or Settings.from_env()
    if sequence and can_sequence(conn):
        log_signer(resolved, conn)  # a bad log key fails here, before anything is stored
    receipts = submit(conn, list(events), resolved)
    sequenced = try_sequence(conn, resolved, wait=wait) if sequence else 0
    return Appended(receipts, sequenced)


def append_encoded(
    conn: psycopg.Connection,
    items: Sequence[EncodedEvent],
    settings: Settings | None = None,
    *,
    sequence: bool = False,
    check_canonical: bool = True,
) -> Appended:
    """`append` for writers that already hold canonical bytes (hooks, spool, ingest, privacy).

    Their bytes were made elsewhere (another process, a file, a commitment pass), so they are
    checked for RFC 8785 form unless the caller has just produced them itself.
    """
    if sequence and can_sequence(conn):
        log_signer(settings or Settings.from_env(), conn)  # key problems before anything is stored
    receipts = submit_encoded(conn, items, check_canonical=check_canonical)
    if not sequence:
        return Appended(receipts, 0)
    return Appended(receipts, try_sequence(conn, settings or Settings.from_env(), wait=True))


def single_event(
    kind: str,
    data: Mapping[str, Any] | Any,
    *,
    tenant: str | None = None,
    principal: Mapping[str, Any] | None = None,
    correlation: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
    versions: Mapping[str, Any] | None = None,
) -> EventBase:
    """A non-run event: a fresh run of its own holding just this event at `run_seq` 0."""
    given = {
        "tenant": tenant,
        "principal": principal,
        "correlation": correlation,
        "source": source,
        "versions": versions,
    }
    extra = {name: value for name, value in given.items() if value is not None}
    return make_event(kind, run_id=ids.new_id(), run_seq=0, data=data, **extra)
