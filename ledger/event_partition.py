"""The `data` of partition records (issue 20 item 1): storage changes that remove rows from view.

Why events: detaching a finished tenant's partitions, or a seq range of a tenant's events, takes
rows out of what `ledger verify` reads without deleting them (DELETE stays refused). An auditor
must be able to tell that from tampering, so each detach is an operator record in the log itself:
which tenant and origin, which seq range (the whole log for a tenant), which tables, whether
they were dropped, the log size at that moment (the final pin of a detached tenant: the record
is sequenced and checkpointed before its partitions go) and the reason. `partition.created`
records that a tenant was given a partition of its own (rows moved, range size). Writers'
credentials cannot forge either (ledger.store.controlplane); both are single-event runs.
Authority fields as gate results' (ledger.gate_claim): `registry` when signed with the service
key of the registry in force, `asserted` otherwise with the reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ledger.event_data import Name, SignedRecord

__all__ = ["PARTITION_EVENT_TYPES", "PartitionCreatedData", "PartitionDetachedData"]

PARTITION_EVENT_TYPES = ("partition.created", "partition.detached")

Count = Annotated[int, Field(ge=0, strict=True)]
Text = Annotated[str, Field(max_length=4000)]


class PartitionCreatedData(SignedRecord):
    """A tenant got a partition of its own: events moved out of DEFAULT, its seq range size."""

    tenant: Name
    origin: Name
    range_size: Annotated[int, Field(ge=1, strict=True)]
    moved: Count = 0
    reason: Text = ""


class PartitionDetachedData(SignedRecord):
    """Partitions were detached (or dropped): a whole tenant, or the seq range [seq_from,
    seq_to) of its events. `size` is the log size when the record was made."""

    scope: Literal["tenant", "range"]
    tenant: Name
    origin: Name
    seq_from: Count = 0
    seq_to: Count = 0
    size: Count = 0
    tables: tuple[Name, ...] = ()
    dropped: bool = False
    reason: Text = ""
