"""What one sequencer batch carries: intake rows parsed, rows accepted, rows rejected.

Its own module so the sequencer's steps (ledger.store.runrules orders, ledger.store.stamps
stamps, ledger.store.controlplane screens roles) share the types without importing each other.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from ledger.event_exercise import EXERCISE_EVENT_TYPES
from ledger.event_gate import GATE_EVENT_TYPES
from ledger.event_monitor import MONITOR_EVENT_TYPES
from ledger.event_partition import PARTITION_EVENT_TYPES
from ledger.event_retention import RETENTION_EVENT_TYPES
from ledger.eventhead import EventHead, decode_head
from ledger.events import EVENT_CLASSES, TENANT_PATTERN
from ledger.pgtime import pg_micros

__all__ = ["SINGLE_EVENT_TYPES", "Accepted", "Drained", "Parsed", "Reject", "parse", "storable"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", re.ASCII).fullmatch
_TENANT = re.compile(TENANT_PATTERN, re.ASCII).match  # the pattern is anchored: ^...$

SINGLE_EVENT_TYPES = frozenset({
    "approval.decided", "policy.published", "registry.published", "key.announced",
    "key.rotated", "key.revoked", "redaction", "run.stop.requested", "run.stop.lifted",
    "annotation", "export.created", "undo.plan.created", "undo.plan.approved",
    *EXERCISE_EVENT_TYPES, *GATE_EVENT_TYPES, *PARTITION_EVENT_TYPES,
    *MONITOR_EVENT_TYPES,
    *RETENTION_EVENT_TYPES,
})  # fmt: skip
"""Types the codebase writes as a run of their own (`ledger.store.door.single_event`): at
run_seq 0 such an event is the whole run, so nothing may follow it (replay and `ledger runs`
treat such runs as records, not agent runs, and would never show what followed).
approval.decided also occurs inside agent runs (hooks); undo.step.* runs have several events;
ledger.gap is not one: a hook records it in place of a run.started it could not build (or of a
lost event) and the run goes on."""


class Accepted(NamedTuple):
    """One event as it goes into ledger_events (a `CopyRow`)."""

    origin: str
    seq: int
    event_id: str
    run_id: str
    run_seq: int
    type: str
    occurred_at: str
    body: bytes
    leaf: bytes
    recorded_us: int
    submitted_by: str


class Parsed(NamedTuple):
    """One intake row whose body passed the structural checks, with the role that wrote it."""

    intake_id: int
    origin: str
    body: bytes
    head: EventHead
    role: str


Reject = tuple[int, uuid.UUID, str, bytes, str]
"""intake_id, event_id, origin, body, reason: one row for `ledger_rejects`."""


@dataclass
class Drained:
    """What one batch took from intake, before ordering; `recorded_us` is its recorded_at."""

    parsed: list[Parsed] = field(default_factory=list)
    done_intake: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    duplicates: int = 0
    recorded_us: int = 0

    def reject(self, item: Parsed, reason: str) -> None:
        """Send one parsed row to `ledger_rejects` with `reason`."""
        event_id = uuid.UUID(item.head.event_id)
        self.rejects.append((item.intake_id, event_id, item.origin, item.body, reason))


def parse(body: bytes) -> EventHead:
    """Structural checks on a body (writers already validated it fully in `submit`)."""
    try:
        value = decode_head(body)
    except msgspec.ValidationError as exc:
        raise ValueError(f"event body: {exc}") from None
    except msgspec.DecodeError:
        raise ValueError("event body is not a JSON object") from None
    if value.type not in EVENT_CLASSES:
        raise ValueError(f"unknown event type {value.type!r}")
    if not _UUID(value.event_id):
        raise ValueError("field 'event_id' missing or not a lower-case UUID")
    if not _UUID(value.run_id):
        raise ValueError("field 'run_id' missing or not a lower-case UUID")
    if not _tenant_name(value.tenant):
        raise ValueError(f"field 'tenant' {value.tenant!r} is not a tenant name ({TENANT_PATTERN})")
    if value.run_seq < 0:
        raise ValueError("field 'run_seq' missing or not a non-negative integer")
    if not _CANONICAL_TS(value.occurred_at):
        raise ValueError("field 'occurred_at' missing or not a canonical RFC 3339 timestamp")
    if not _plainly_real(value.occurred_at):
        try:  # the shape alone admits 2026-02-30 and year 0, which would fail the whole COPY
            pg_micros(value.occurred_at)
        except (ValueError, OverflowError):
            what = f"field 'occurred_at' {value.occurred_at!r}"
            raise ValueError(f"{what} is not a real date") from None
    return value


def _plainly_real(ts: str) -> bool:
    """A canonical timestamp that is certainly a real instant (days 1-28): string compares only,
    so the hot path skips a full date conversion the COPY does anyway."""
    return (
        "0001" <= ts[:4]
        and "01" <= ts[5:7] <= "12"
        and "01" <= ts[8:10] <= "28"
        and ts[11:13] <= "23"
        and ts[14:16] <= "59"
        and ts[17:19] <= "59"
    )


@functools.lru_cache(maxsize=1024)
def _tenant_name(tenant: str) -> bool:
    """Whether `tenant` is a tenant name (cached: a batch names a handful of tenants)."""
    return bool(_TENANT(tenant)) and "\n" not in tenant


def storable(reason: str) -> str:
    """A reject reason PostgreSQL can hold whatever writer text it quotes (no NUL, no lone
    surrogate, bounded): a reason that cannot be stored would fail the batch it explains."""
    text = reason.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if len(text) <= 2000 else text[:2000] + "..."
