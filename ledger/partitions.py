"""Tenants and their storage: the one service behind `ledger tenants add|list|detach`.

Why a service: the CLI, the TUI and the demo must give a tenant a partition, list the layout and
detach a finished tenant the same way, with the same records. Each change is an operator record
in the tenant's own log (ledger.event_partition): `partition.created` after a tenant got its own
partitions, `partition.detached` sequenced and checkpointed BEFORE the partitions go, so the
last checkpoint of a detached log covers the record that explains why the log ends there.
Only the ledger owner (or a ledger_operator) may record them; only the owner may change the
storage (the SQL functions of migration 0026 are not granted to anyone). Records are signed
like gate results (ledger.gates.sign_claim over ledger.gate_claim.claim_message, domain
`agent-ledger/partition/v1`): `registry` when `--sign-with` is the service key of the
registry in force, `asserted` otherwise with the reason.
"""

from __future__ import annotations

import getpass
import itertools
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import psycopg

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import InputError
from ledger.event_partition import PartitionCreatedData, PartitionDetachedData
from ledger.events import TENANT_PATTERN
from ledger.gate_claim import claim_message
from ledger.gates import judge_authority, sign_claim
from ledger.holds import HoldBlocks, list_holds, need_reason
from ledger.note import Signer
from ledger.store.partitions import (
    DEFAULT_RANGE_SIZE,
    PartitionError,
    PartitionInfo,
    SeqRange,
    detach_range,
    detach_tenant,
    mark_detached,
    own_partition,
    partition_catalog,
    seq_ranges,
)

__all__ = [
    "PARTITION_DOMAIN", "TenantAdded", "TenantDetached", "TenantRow", "add_tenant", "detach",
    "detach_seq_range", "partition_message", "tenants",
]

PARTITION_DOMAIN = "agent-ledger/partition/v1"
_TENANT = re.compile(TENANT_PATTERN, re.ASCII).match
_R = TypeVar("_R", PartitionCreatedData, PartitionDetachedData)


def partition_message(data: PartitionCreatedData | PartitionDetachedData, origin: str) -> bytes:
    """The bytes a partition record's signature covers: the domain, the record's kind and
    tenant, then the claim every signed operator record has (ledger.gate_claim)."""
    kind = "created" if isinstance(data, PartitionCreatedData) else f"detached/{data.scope}"
    return claim_message(PARTITION_DOMAIN, (kind, data.tenant), data, origin)


def _authorised(conn: psycopg.Connection, origin: str, data: _R, signer: Signer | None,
                root: TrustRoot | None) -> _R:
    """`data` with its authority judged (and signed when a key is given), as a gate result."""
    digest, reason = judge_authority(conn, origin, root, signer)
    authority: Literal["registry", "asserted"] = "asserted" if reason else "registry"
    fields: dict[str, Any] = {"authority": authority, "authority_reason": reason,
                              "registry_hash": digest}
    if signer is None:
        return data.model_copy(update=fields)
    return sign_claim(data, origin, signer, message=partition_message, **fields)


@dataclass(frozen=True, slots=True)
class TenantAdded:
    """What `ledger tenants add` did."""

    tenant: str
    origin: str
    own_partition: bool
    range_size: int
    moved: int
    event_id: str | None
    authority: str | None = None  # "registry" or "asserted (why)" for the record
    already: bool = False  # listed before: nothing changed, the fields say its real state

    def state(self) -> str:
        """`its own partition, ranges of N` / `already has its own partition (ranges of N)`."""
        where = "its own partition" if self.own_partition else "the DEFAULT partition"
        if self.already:
            has = "has" if self.own_partition else "is in"
            return f"already {has} {where} (ranges of {self.range_size})"
        return f"{where}, ranges of {self.range_size}"


@dataclass(frozen=True, slots=True)
class TenantRow:
    """One line of `ledger tenants list`."""

    tenant: str
    origin: str
    own_partition: bool
    range_size: int
    ranges: tuple[SeqRange, ...]
    rows: int
    intake: int
    detached_at: str | None

    @property
    def detached_ranges(self) -> tuple[SeqRange, ...]:
        """Ranges no longer attached (archived or dropped)."""
        return tuple(r for r in self.ranges if not r.attached)


@dataclass(frozen=True, slots=True)
class TenantDetached:
    """What `ledger tenants detach` did: the record's id, the final log size, the tables."""

    tenant: str
    origin: str
    event_id: str
    size: int
    tables: tuple[str, ...]
    authority: str = ""


def _checked(tenant: str) -> str:
    if not _TENANT(tenant):
        raise InputError(f"tenant {tenant!r} is not a tenant name ({TENANT_PATTERN})")
    return tenant


def _may_record(conn: psycopg.Connection) -> None:
    """PartitionError unless this login may write operator records (a writer never can)."""
    row = conn.execute(query("stop_recorder")).fetchone()
    if row is None or not row[1]:
        raise PartitionError(
            f"role {row[0] if row else '?'} may not change partitions: only the ledger owner may"
        )


def _record(conn: psycopg.Connection, settings: Settings, kind: str, tenant: str,
            data: PartitionCreatedData | PartitionDetachedData) -> str:
    """Append (and sequence) one partition record in `tenant`'s log; its event id."""
    from ledger.store.door import append, single_event

    event = single_event(
        kind, data, tenant=tenant, principal={"initiating_user": data.recorded_by},
        source={"framework": "python", "integration": "partitions"},
    )  # fmt: skip
    append(conn, [event], settings)
    return str(event.event_id)


def add_tenant(
    conn: psycopg.Connection, settings: Settings, tenant: str, *,
    own: bool, range_size: int = DEFAULT_RANGE_SIZE, reason: str = "",
    signer: Signer | None = None, root: TrustRoot | None = None,
) -> TenantAdded:  # fmt: skip
    """List `tenant` in the catalog; with `own`, give it a partition of its own in every log
    table (its stored rows move out of DEFAULT in the same transaction) and record it."""
    origin = settings.origin(_checked(tenant))
    if range_size < 1:
        raise InputError(f"--range-size must be at least 1, got {range_size}")
    _may_record(conn)
    catalog = {p.origin: p for p in partition_catalog(conn)}
    known = catalog.get(origin)
    if known is not None and known.detached_at is not None:
        raise PartitionError(f"tenant {tenant} was detached at {known.detached_at}: its log is "
                             "closed (pick another tenant name)")  # fmt: skip
    if known is not None and known.own_partition and own:
        raise PartitionError(f"tenant {tenant} already has its own partition (ranges of "
                             f"{known.range_size})")  # fmt: skip
    if known is not None and (known.own_partition or not own):  # the catalog's state, as is
        size = (known if known.own_partition else catalog[""]).range_size
        return TenantAdded(tenant, origin, known.own_partition, size, 0, None, already=True)
    if not own:
        conn.execute(query("add_tenant_shared"), (origin, tenant))
        return TenantAdded(tenant, origin, False, catalog[""].range_size, 0, None)
    moved = own_partition(conn, origin, tenant, range_size)
    data = PartitionCreatedData(
        tenant=tenant, origin=origin, range_size=range_size, moved=moved, reason=reason,
        recorded_by=getpass.getuser(),
    )  # fmt: skip
    data = _authorised(conn, origin, data, signer, root)
    event_id = _record(conn, settings, "partition.created", tenant, data)
    return TenantAdded(tenant, origin, True, range_size, moved, event_id, _said(data))


def _said(data: PartitionCreatedData | PartitionDetachedData) -> str:
    return f"asserted ({data.authority_reason})" if data.authority == "asserted" else "registry"


def _tenant_of(settings: Settings, origin: str) -> str:
    prefix = settings.origin_prefix + "/"
    return origin[len(prefix):] if origin.startswith(prefix) else origin


def tenants(conn: psycopg.Connection, settings: Settings) -> list[TenantRow]:
    """Every tenant the catalog lists or the log holds, with its layout, ranges and rows."""
    catalog = {p.origin: p for p in partition_catalog(conn)}
    shared = catalog.pop("")
    logged = [str(r[0]) for r in conn.execute(query("origins")).fetchall()]
    origins = sorted(set(catalog) | set(logged))
    counts = {str(r[0]): (int(r[1]), int(r[2]))
              for r in conn.execute(query("origin_rows"), (origins,)).fetchall()}  # fmt: skip
    found: list[TenantRow] = []
    for origin in origins:
        info: PartitionInfo = catalog.get(origin) or shared
        own = info.own_partition and info is not shared
        live = own and info.detached_at is None
        ranges = tuple(seq_ranges(conn, origin)) if live or not own else info.detached
        rows, intake = counts.get(origin, (0, 0))
        found.append(TenantRow(
            info.tenant if info is not shared else _tenant_of(settings, origin), origin, own,
            info.range_size, ranges, rows, intake, info.detached_at if own else None,
        ))  # fmt: skip
    return found


def _not_held(conn: psycopg.Connection, origin: str, tenant: str) -> None:
    """HoldBlocks (exit 1) while a legal hold is in force in `tenant`'s log: every hold there
    covers the tenant or one of its runs or subjects, and a detach takes the whole log out of
    every read path (`hold list`, `verify`, redaction and archive checks)."""
    held = list_holds(conn, origins=[origin], active=True)
    if held:
        raise HoldBlocks(f"{held[0].line()} is in force on tenant {tenant}: nothing detached "
                         "(`ledger hold release HOLD_ID` first)")  # fmt: skip


def detach(
    conn: psycopg.Connection, settings: Settings, tenant: str, *, reason: str = "",
    signer: Signer | None = None, root: TrustRoot | None = None,
) -> TenantDetached:  # fmt: skip
    """Detach a finished tenant: refuse while intake holds its events or a legal hold is in
    force, record `partition.detached` in its log (sequenced, so the final checkpoint covers
    it), then detach its partitions of every table and keep the final size and root in the
    catalog (`ledger verify` reports it). The tables stay, append-only, outside the log."""
    origin = settings.origin(_checked(tenant))
    need_reason(reason, "a detach")
    _may_record(conn)
    mine = [p for p in partition_catalog(conn) if p.origin == origin]
    if not mine or not mine[0].own_partition or mine[0].detached_at is not None:
        raise PartitionError(
            f"tenant {tenant} has no attached partition of its own "
            f"(give it one first: ledger tenants add {tenant} --own-partition)"
        )
    waiting = [r for r in tenants(conn, settings) if r.origin == origin and r.intake]
    if waiting:
        raise PartitionError(
            f"intake still holds {waiting[0].intake} events of {tenant}: "
            "sequence or reject them first (ledger serve)"
        )
    _not_held(conn, origin, tenant)
    names = ("ledger_events", "ledger_tiles", "ledger_checkpoints", "ledger_cosigned")
    latest = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
    size = int(latest[0]) if latest else 0  # the events [0, size) before this record
    data = PartitionDetachedData(
        scope="tenant", tenant=tenant, origin=origin, seq_to=size, size=size,
        tables=tuple(f"{n}_{mine[0].suffix}" for n in names), reason=reason,
        recorded_by=getpass.getuser(),
    )  # fmt: skip
    data = _authorised(conn, origin, data, signer, root)
    event_id = _record(conn, settings, "partition.detached", tenant, data)
    final = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
    end, top = (int(final[0]), bytes(final[1]).hex()) if final else (0, "")
    lo = max((r.hi for r in mine[0].detached), default=0)  # after ranges already archived
    with conn.transaction():
        tables = detach_tenant(conn, tenant)
        mark_detached(conn, origin, lo=lo, size=end, root=top, tables=tables)
    return TenantDetached(tenant, origin, event_id, end, tuple(tables), _said(data))


def _covered(conn: psycopg.Connection, origin: str, lo: int, hi: int) -> None:
    """PartitionError unless whole attached range partitions cover exactly [lo, hi) below the
    newest checkpoint's tail (what ledger_detach_range checks again), before anything is
    recorded."""
    parts = [r for r in seq_ranges(conn, origin) if r.attached and r.lo < hi and r.hi > lo]
    if not parts or parts[0].lo != lo or parts[-1].hi != hi or any(
        a.hi != b.lo for a, b in itertools.pairwise(parts)
    ):
        raise PartitionError(f"range [{lo}, {hi}) is not covered exactly by whole partitions")
    latest = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
    if latest is not None and hi > int(latest[0]) - 1:
        raise PartitionError(
            f"range [{lo}, {hi}) holds the newest checkpoint's tail (seq {int(latest[0]) - 1})"
        )


def detach_seq_range(
    conn: psycopg.Connection, settings: Settings, tenant: str, lo: int, hi: int, *,
    drop: bool, reason: str = "", signer: Signer | None = None, root: TrustRoot | None = None,
) -> TenantDetached:  # fmt: skip
    """Detach (or drop) the seq range [lo, hi) of a tenant with a partition of its own, recorded
    first as `partition.detached` (scope "range") in its log; the tables detached."""
    origin = settings.origin(_checked(tenant))
    _may_record(conn)
    mine = [p for p in partition_catalog(conn) if p.origin == origin and p.own_partition]
    if not mine or mine[0].detached_at is not None:
        raise PartitionError(f"tenant {tenant} has no attached partition of its own")
    _covered(conn, origin, lo, hi)
    latest = conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
    data = PartitionDetachedData(
        scope="range", tenant=tenant, origin=origin, seq_from=lo, seq_to=hi,
        size=int(latest[0]) if latest else 0, dropped=drop, reason=reason,
        tables=tuple(r.table for r in seq_ranges(conn, origin)
                     if r.attached and lo <= r.lo and r.hi <= hi),
        recorded_by=getpass.getuser(),
    )  # fmt: skip
    data = _authorised(conn, origin, data, signer, root)
    event_id = _record(conn, settings, "partition.detached", tenant, data)
    tables = detach_range(conn, origin, lo, hi, drop=drop)
    return TenantDetached(tenant, origin, event_id, data.size, tuple(tables), _said(data))
