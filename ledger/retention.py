"""Retention records: sign and record them, read the rules in force, say what is due.

Why one service: `ledger retention set|list`, `ledger hold ...` (ledger.holds) and `ledger
archive` (exporters.archive) all record an operator record the same way and must agree on who
vouched for it. Each record is a single-event run appended through the write door and sequenced
before the call returns, in the log of the tenant it governs; a writer's login cannot record
one here (GateRefused, before anything is written) nor slip one into intake (the sequencer
refuses it, ledger.store.controlplane). Authority exactly as a gate result's (ledger.gates):
`registry` when signed with the service_key of the registry in force, else `asserted` with the
reason; the claim is ledger.gate_claim's under the agent-ledger/retention/v1 domain, headed by
the record's type and key (tenant, or hold id), so a hold's signature cannot be replayed as its
release, another tenant's rule, or a gate result.

Rules: the newest `retention.rule` per (tenant, event_class) is in force. An event is due when
it occurred longer ago than its rule's `keep`. Archival moves whole seq ranges, so `ledger
archive --due` uses, per tenant with a "*" rule, the cut-off of the LONGEST keep of its rules:
every event before it is past the keep of whichever rule governs it (`due_cutoff`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import psycopg
from pydantic import ValidationError

from ledger.authority.service import load_history
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.config import Settings
from ledger.errors import InputError
from ledger.event_retention import (
    ArchiveRecordedData,
    HoldAddedData,
    HoldReleasedData,
    RetentionRuleData,
    SignedRecord,
)
from ledger.events import decode_event
from ledger.gate_claim import (
    AUTHORITY_FIELDS,
    GateCheck,
    check_claim,
    claim_message,
)
from ledger.gates import judge_authority, may_record, sign_claim
from ledger.note import Signer
from ledger.store.door import append, single_event
from ledger.store.holds import due_events, record_rows
from ledger.when import parse_duration

__all__ = [
    "RETENTION_DOMAIN",
    "Due",
    "Recorded",
    "Rule",
    "check_record",
    "due_cutoff",
    "due_rules",
    "record_retention",
    "retention_message",
    "rules_in_force",
    "set_rule",
]

RETENTION_DOMAIN = "agent-ledger/retention/v1"
_Data = TypeVar("_Data", bound=SignedRecord)
Kind = Literal["retention.rule", "hold.added", "hold.released", "archive.recorded"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What record_retention wrote: the event, its log and the authority it carries."""

    event_id: uuid.UUID
    origin: str
    authority: Literal["registry", "asserted"]
    signed: bool
    reason: str | None  # why `asserted`


def _key(data: SignedRecord) -> str:
    """The claim's key line: the hold id for a hold record, the tenant for the others."""
    if isinstance(data, HoldAddedData | HoldReleasedData):
        return str(data.hold_id)
    if isinstance(data, RetentionRuleData | ArchiveRecordedData):
        return data.tenant
    raise TypeError(type(data).__name__)


def retention_message(kind: str, data: SignedRecord, origin: str) -> bytes:
    """The bytes a retention record's signature covers (module docstring)."""
    return claim_message(RETENTION_DOMAIN, (kind, _key(data)), data, origin)


def record_retention(
    conn: psycopg.Connection,
    settings: Settings,
    kind: Kind,
    data: _Data,
    *,
    tenant: str,
    signer: Signer | None,
    root: TrustRoot | None,
) -> tuple[Recorded, _Data]:
    """Judge, sign and append one retention record in `tenant`'s log (authority fields of
    `data` are replaced); returns what was recorded and the data as stored."""
    may_record(conn, "retention records")
    origin = settings.origin(tenant)
    data = data.model_copy(update=dict.fromkeys(AUTHORITY_FIELDS))
    digest, reason = judge_authority(conn, origin, root, signer)
    authority: Literal["registry", "asserted"] = "asserted" if reason else "registry"
    fields: dict[str, Any] = {"authority": authority, "authority_reason": reason,
                              "registry_hash": digest}
    if signer is not None:
        data = sign_claim(data, origin, signer, **fields,
                          message=lambda d, o: retention_message(kind, d, o))  # fmt: skip
    else:
        data = data.model_copy(update=fields)
    event = single_event(
        kind, data, tenant=tenant, principal={"initiating_user": data.recorded_by},
        source={"framework": "python", "integration": "retention"},
    )  # fmt: skip
    append(conn, [event], settings)
    return Recorded(event.event_id, origin, authority, signer is not None, reason), data


_KINDS: dict[type[SignedRecord], Kind] = {
    RetentionRuleData: "retention.rule", HoldAddedData: "hold.added",
    HoldReleasedData: "hold.released", ArchiveRecordedData: "archive.recorded",
}  # fmt: skip


def check_record(
    conn: psycopg.Connection, origin: str, seq: int, data: SignedRecord, *, root: TrustRoot | None
) -> GateCheck:
    """Re-check a stored record against the registry history of its log (the gate rule)."""
    if data.authority == "registry" and root is None:
        return GateCheck("registry", False, f"cannot check the signature: {NO_TRUST_ROOT}")
    history = load_history(conn, origin, root)
    message = retention_message(_KINDS[type(data)], data, origin)
    return check_claim(history, seq, data, message, "record")


@dataclass(frozen=True, slots=True)
class Rule:
    """A retention rule in force: where it was recorded and what it says."""

    origin: str
    seq: int
    recorded_at: datetime
    data: RetentionRuleData

    @property
    def keep(self) -> timedelta:
        return parse_duration(self.data.keep, "keep")


def set_rule(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant: str,
    event_class: str,
    keep: str,
    reason: str,
    recorded_by: str,
    signer: Signer | None = None,
    root: TrustRoot | None = None,
) -> Recorded:
    """Record `retention.rule` (it replaces the rule in force for the same tenant and class);
    refused (exit 2) without a reason or for a tenant with no log and no catalog row."""
    from ledger.holds import known_tenant, need_reason

    need_reason(reason, "a retention rule")
    parse_duration(keep, "--keep")
    try:
        data = RetentionRuleData(tenant=tenant, event_class=event_class, keep=keep.lower(),
                                 reason=reason, recorded_by=recorded_by)  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"bad retention rule: {where}: {first['msg']}") from None
    may_record(conn, "retention records")  # a writer's login: refused before anything is read
    known_tenant(conn, settings, tenant)
    return record_retention(conn, settings, "retention.rule", data, tenant=tenant,
                            signer=signer, root=root)[0]  # fmt: skip


def rules_in_force(conn: psycopg.Connection, origins: list[str] | None = None) -> list[Rule]:
    """The newest rule per (tenant, event_class), by tenant then class."""
    newest: dict[tuple[str, str], Rule] = {}
    for row in record_rows(conn, ["retention.rule"], origins):
        data = decode_event(row.body).data
        if isinstance(data, RetentionRuleData):
            newest[(data.tenant, data.event_class)] = Rule(row.origin, row.seq, row.recorded_at,
                                                           data)  # fmt: skip
    return [newest[k] for k in sorted(newest)]


@dataclass(frozen=True, slots=True)
class Due:
    """What one rule makes due now: events of its class that occurred before `cutoff`."""

    rule: Rule
    cutoff: datetime
    events: int
    first_seq: int | None
    last_seq: int | None


def _like(event_class: str) -> str:
    """The LIKE pattern of an event class ("*", "llm.*", or one type)."""
    if event_class == "*":
        return "%"
    escaped = event_class.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return escaped[:-1] + "%" if escaped.endswith(".*") else escaped


def due_rules(
    conn: psycopg.Connection, rules: list[Rule], now: datetime | None = None
) -> list[Due]:
    """For each rule: how many events of its class are past its keep, and their seq bounds."""
    moment = now or datetime.now(UTC)
    found = []
    for rule in rules:
        cutoff = moment - rule.keep
        count, lo, hi = due_events(conn, rule.origin, _like(rule.data.event_class), cutoff)
        found.append(Due(rule, cutoff, count, lo, hi))
    return found


def due_cutoff(rules: list[Rule], tenant: str, now: datetime | None = None) -> datetime | None:
    """`ledger archive --due`'s cut-off for `tenant`: now minus the longest keep of its rules,
    or None when it has no "*" rule (events of a class no rule names are kept)."""
    mine = [r for r in rules if r.data.tenant == tenant]
    if not any(r.data.event_class == "*" for r in mine):
        return None
    return (now or datetime.now(UTC)) - max(r.keep for r in mine)

