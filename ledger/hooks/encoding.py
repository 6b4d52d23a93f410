"""Turning a captured `Pending` into canonical, chained bytes (runs on the writer thread).

Kept apart from the delivery logic because this is the part that must never fail: whatever the
agent handed us, the run's chain must advance by exactly one well-formed event. Payloads are
sanitised here (not on the agent thread, to keep recording cheap), secrets in the data and raw
payload are replaced by commitment markers (ledger.secrets), oversized fields are replaced
by hash-committing markers, and an event that still cannot be built becomes a `ledger.gap` in its
place, so the chain stays contiguous and the loss is on the record.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger import ids
from ledger.config import Settings
from ledger.events import EventBase, encode_event, leaf_hash, make_event
from ledger.hooks.sanitize import canonical_size, json_safe, truncate_marker
from ledger.secrets import scrub_event_json, scrub_secrets
from ledger.store.append import EncodedEvent, RunTotals

if TYPE_CHECKING:  # payload rows are built by ledger.privacy, only on the identity path
    from ledger.privacy import PayloadRow

__all__ = [
    "Ack",
    "Pending",
    "RunChain",
    "SpooledDeltas",
    "WriterStats",
    "encode_pending",
    "gather",
    "live_version_of",
    "resolve",
    "resolve_gated",
    "settle_totals",
]

log = logging.getLogger("ledger.hooks")


@dataclass(slots=True)
class RunChain:
    """A run's position in its hash chain; mutated only on the writer thread."""

    run_id: UUID
    next_seq: int = 0
    prev_hash: str | None = None
    totals: Any = None  # an enforced run's RunTotals (ledger/hooks/enforce.py), else None

    def advance(self, leaf: bytes) -> None:
        """Move past an encoded event whose leaf hash is `leaf`."""
        self.next_seq += 1
        self.prev_hash = leaf.hex()


@dataclass(frozen=True, slots=True)
class Ack:
    """How an event was kept: durable in the database, or only in the local spool.

    `live_version` is the live-control version the durable insert read (None when spooled):
    above the process's stop cache, the cache was refreshed before this ack was resolved.
    """

    event_id: UUID
    durable: bool
    live_version: int | None = None


@dataclass(slots=True)
class Pending:
    """One event as captured on the agent thread; `data` may be a callable run on the writer."""

    chain: RunChain
    type: str
    envelope: dict[str, Any]
    data: Any
    event_id: UUID
    occurred_ns: int
    mono_ns: int
    correlation: dict[str, Any] | None = None
    raw: tuple[str, Any] | None = None
    source: dict[str, Any] | None = None
    ack: Future[Ack] | None = None
    require_db: bool = False
    finalize: Callable[[dict[str, Any], RunChain], None] | None = None
    private: tuple[PayloadRow, ...] = ()
    # run on the writer thread once the event is kept, before the ack resolves: a stop in force
    # for this call comes back as the exception the waiter gets instead of the ack (issue 16)
    gate: Callable[[Ack], BaseException | None] | None = None
    # running-total deltas of an enforced run's event (cost_usd, total_tokens, unknown calls)
    deltas: tuple[Decimal, int, int] | None = None


@dataclass
class WriterStats:
    """Counters for tests, benchmarks and diagnostics."""

    encoded: int = 0
    submitted: int = 0
    spooled: int = 0
    gaps: int = 0
    truncated: int = 0
    scrubbed: int = 0  # secrets replaced by commitment markers (ledger.secrets)
    delivered_from_spool: int = 0
    sequenced: int = 0
    rejected: int = 0  # acknowledged, then rejected by the sequencer (ledger.hooks.rejects)
    errors: list[str] = field(default_factory=list)


def encode_pending(
    p: Pending, settings: Settings, max_bytes: int, stats: WriterStats
) -> EncodedEvent:
    """Build, canonicalise and chain one event; never raises (falls back to ledger.gap)."""
    chain = p.chain
    fields = dict(p.envelope)
    fields.update(
        event_id=p.event_id, run_id=chain.run_id, run_seq=chain.next_seq,
        prev_run_hash=chain.prev_hash, occurred_at=ids.format_timestamp(p.occurred_ns),
        mono_ns=p.mono_ns,
    )
    if p.correlation:
        fields["correlation"] = p.correlation
    if p.source:
        fields["source"] = {**fields.get("source", {}), **p.source}
    try:
        data = json_safe(p.data() if callable(p.data) else p.data)
        if p.finalize is not None:
            p.finalize(data, chain)
        fields["data"] = data
        if p.raw is not None:
            fields["raw"] = {"schema": p.raw[0], "payload": json_safe(p.raw[1])}
        fields, found = scrub_event_json(fields)
        stats.scrubbed += len(found)
        event = make_event(p.type, **fields)
        body = encode_event(event)
        if len(body) > max_bytes:
            stats.truncated += 1
            event, body = _shrink(p.type, fields, max_bytes)
    except Exception as exc:
        stats.gaps += 1
        event, body = _gap_for(p, fields, exc)
    chain.advance(leaf_hash(body))
    stats.encoded += 1
    return EncodedEvent(event.event_id, settings.origin(event.tenant), event.run_id,
                        event.run_seq, body, p.deltas)


def _shrink(type_name: str, fields: dict[str, Any], max_bytes: int) -> tuple[EventBase, bytes]:
    """Replace the largest payload fields by hash-committing markers until under the limit."""
    fields = dict(fields)
    if "raw" in fields:
        raw = fields["raw"]
        fields["raw"] = {"schema": raw["schema"], "payload": truncate_marker(raw["payload"])}
    data = dict(fields["data"])
    for key in sorted(data, key=lambda k: canonical_size(data[k])[0], reverse=True):
        event = make_event(type_name, **{**fields, "data": data})
        body = encode_event(event)
        if len(body) <= max_bytes:
            return event, body
        data[key] = truncate_marker(data[key])
    event = make_event(type_name, **{**fields, "data": data})
    body = encode_event(event)
    if len(body) > max_bytes:
        raise ValueError(f"event still {len(body)} bytes after truncation")
    return event, body


def _gap_for(p: Pending, fields: dict[str, Any], exc: Exception) -> tuple[EventBase, bytes]:
    """A ledger.gap taking the failed event's place (same id, run_seq and chain link)."""
    log.warning("ledger: %s event replaced by ledger.gap: %s", p.type, exc)
    keep = {k: fields[k] for k in ("event_id", "run_id", "run_seq", "prev_run_hash",
                                   "occurred_at", "mono_ns", "tenant") if k in fields}
    data = {"reason": f"{p.type} event could not be recorded", "missing_events": 1,
            "details": {"type": p.type, "error": f"{type(exc).__name__}: {exc}"[:2000]}}
    data = scrub_secrets(data)[0]  # the error may quote the agent's value
    try:
        event = make_event("ledger.gap", **keep, data=data)
    except Exception:
        keep.pop("tenant", None)
        event = make_event("ledger.gap", **keep, data=data)
    return event, encode_event(event)


def live_version_of(result: object) -> int | None:
    """The live version a submit read (receipts carry it; an injected submit may not)."""
    if isinstance(result, list) and result:
        version = getattr(result[0], "live_version", None)
        return version if isinstance(version, int) else None
    return None


COALESCE_SECONDS = 0.003  # how long an unwaited batch of an enforced run waits for company


def _waited(item: Any) -> bool:
    group = item if isinstance(item, tuple) else (item,)
    return any(isinstance(p, Pending) and p.ack is not None for p in group)


def _tracked(item: Any) -> bool:
    group = item if isinstance(item, tuple) else (item,)
    return any(isinstance(p, Pending) and p.chain.totals is not None for p in group)


def gather(q: queue.SimpleQueue[Any], first: Any, limit: int) -> list[Any]:
    """The next batch: `first` and whatever is queued behind it. When nobody waits on the
    batch and it holds an enforced run's events (a tool's outcome), wait a moment for the
    next decision and intent, so they share a statement instead of queueing behind it (the
    agent never waits for this: only events without an ack are held back)."""
    items = [first]
    held = False
    while len(items) < limit:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            if held or any(_waited(i) for i in items) or not any(_tracked(i) for i in items):
                break
            held = True
            try:
                items.append(q.get(timeout=COALESCE_SECONDS))
            except queue.Empty:
                break
    return items


def settle_totals(batch: Sequence[tuple[EncodedEvent, Pending | None]], result: object) -> None:
    """Hand the database's running totals of enforced runs back to them (receipts in order)."""
    if not isinstance(result, list) or len(result) != len(batch):
        return
    for (encoded, p), receipt in zip(batch, result, strict=True):
        totals = getattr(receipt, "run_totals", None)
        if p is not None and totals is not None and p.chain.totals is not None:
            p.chain.totals.settle(encoded.event_id, totals)


def resolve_gated(p: Pending, ack: Ack) -> None:
    """Resolve `p`'s ack, or fail it with what its gate says (a stop in force)."""
    assert p.ack is not None
    outcome: Ack | BaseException = ack
    if p.gate is not None:
        try:
            outcome = p.gate(ack) or ack
        except Exception as exc:  # pragma: no cover - defensive; never kill the thread
            log.exception("ledger: live check failed")
            outcome = exc
    resolve(p.ack, outcome)


def resolve(future: Future[Ack], outcome: Ack | BaseException) -> None:
    """Resolve an ack unless the waiter gave up (a cancelled future must not kill the thread)."""
    try:
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:
        pass



class SpooledDeltas:
    """The running-total deltas of an enforced run's spooled events, held until delivered: the
    spool stores bodies only, and spend delivered without its deltas would never count in the
    database's totals (a resumed run would start understated: budgets fail open). Writer
    thread only. Held in memory: a process that dies with a spool loses them (as before)."""

    def __init__(self) -> None:
        self._held: dict[UUID, RunTotals] = {}

    def keep(self, items: Sequence[EncodedEvent]) -> None:
        """Spooled: remember the deltas of the events that carry some."""
        self._held.update((e.event_id, e.deltas) for e in items if e.deltas is not None)

    def restore(self, items: Sequence[EncodedEvent]) -> list[EncodedEvent]:
        """The events read back from the spool, with their deltas again."""
        return [replace(e, deltas=self._held[e.event_id])
                if e.deltas is None and e.event_id in self._held else e for e in items]

    def delivered(self, items: Sequence[EncodedEvent]) -> None:
        """Submitted: the database counted them (once per event id, migration 0017)."""
        for e in items:
            self._held.pop(e.event_id, None)
