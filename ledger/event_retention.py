"""The `data` of the retention records (issue 20): rules, legal holds and archives, as events.

Why events and not a settings table: "what was kept, for how long, who froze it and what left
the database" is exactly what an auditor asks the ledger, so each answer is hashed, sequenced
and covered by the signed checkpoints like everything else. Each is a single-event run in the
log of the tenant it governs, an operator record (a writer's credentials cannot forge one:
ledger.store.controlplane refuses it at the sequencer), signed with `--sign-with KEY` over the
agent-ledger/retention/v1 claim (ledger.gate_claim) and recorded `registry` only when that key
is the service_key of the registry in force, else `asserted` with the reason (ledger.gates).

- `retention.rule`: keep events of `event_class` ("*", a type, or a prefix "llm.*") of `tenant`
  for `keep` (a duration such as "400d"); the newest rule per (tenant, class) is in force.
- `hold.added` / `hold.released`: a legal hold over a tenant, one run of it, or one data subject
  of it; while in force it blocks redaction and archival of what it covers.
- `archive.recorded`: the seq range [seq_from, seq_to) of `tenant` left the database after its
  evidence bundle (sha256 `bundle_sha256`) and tiles verified; `checkpoint` is the final pin.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from ledger.event_data import Hash, Name, SignedRecord

__all__ = [
    "RETENTION_EVENT_TYPES",
    "ArchiveRecordedData",
    "HoldAddedData",
    "HoldReleasedData",
    "RetentionRuleData",
    "SignedRecord",
]

RETENTION_EVENT_TYPES = ("retention.rule", "hold.added", "hold.released", "archive.recorded")

Text = Annotated[str, Field(min_length=1, max_length=4000)]
Tenant = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]  # events.TENANT_PATTERN
EventClass = Annotated[str, Field(pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")]
Keep = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,5}[smhdw]$")]  # ledger.when.parse_duration
Seq = Annotated[int, Field(ge=0, strict=True)]


class RetentionRuleData(SignedRecord):
    """Keep `event_class` events of `tenant` for `keep`; older whole ranges may be archived."""

    tenant: Tenant
    event_class: EventClass
    keep: Keep
    reason: Text


class HoldAddedData(SignedRecord):
    """A legal hold: the whole tenant, or one run, or one data subject of it (or both)."""

    hold_id: uuid.UUID
    tenant: Tenant
    run_id: uuid.UUID | None = None
    subject: Name | None = None
    reason: Text


class HoldReleasedData(SignedRecord):
    """The hold `hold_id` no longer applies (it stays in the log, as does this release)."""

    hold_id: uuid.UUID
    reason: Text


class ArchiveRecordedData(SignedRecord):
    """Events [seq_from, seq_to) of `tenant`, all occurred before `before`, were archived."""

    tenant: Tenant
    seq_from: Seq
    seq_to: Seq
    before: Name
    bundle_sha256: Hash
    checkpoint: Annotated[str, Field(min_length=1, max_length=8000)]
    partitions: tuple[Name, ...] = ()
    disposition: Literal["detached", "dropped"]
