"""Partitioned storage (migration 0026): seq ranges, the uniqueness guard, detaching.

The log tables are `PARTITION BY LIST (origin)` with a DEFAULT partition and, for a tenant added
with `--own-partition`, one of its own; events partitions are sub-partitioned by seq range. A
row whose range partition does not exist lands in the DEFAULT range partition (`_rest`), and a
range cannot be created over rows already there, so the sequencer calls `ensure_ranges` before
each COPY: ranges are made one spare range ahead by a SECURITY DEFINER function of the owner,
and the highest bound is cached per connection and origin, so a batch costs one query only when
it comes near that bound. The function also moves stray `_rest` rows into a range it creates,
so a stale cache (a tenant given its own partition by another process) costs nothing but a
move. The cache entries expire after `_CACHE_SECONDS` for the same reason.

Uniqueness of event_id and (run_id, run_seq) across partitions is the guard table
`ledger_event_keys`, filled by `guard_keys` in the batch transaction (contract 1).
"""

from __future__ import annotations

import json
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ledger.db.sqlfiles import query
from ledger.errors import LedgerError
from ledger.store.batch import Accepted
from ledger.verify_report import DetachedLog

__all__ = [
    "DEFAULT_RANGE_SIZE",
    "PartitionError",
    "PartitionInfo",
    "SeqRange",
    "detach_range",
    "detach_tenant",
    "detached_tenants",
    "ensure_batch",
    "ensure_ranges",
    "guard_keys",
    "own_partition",
    "partition_catalog",
    "seq_ranges",
]

DEFAULT_RANGE_SIZE = 1_048_576
_CACHE_SECONDS = 30.0
_bounds: weakref.WeakKeyDictionary[psycopg.Connection, dict[str, tuple[int, float]]] = (
    weakref.WeakKeyDictionary()
)


class PartitionError(LedgerError):
    """A partition operation PostgreSQL refused (its message, one line)."""


@dataclass(frozen=True, slots=True)
class SeqRange:
    """One seq range partition of an origin's events: [lo, hi), attached or detached."""

    table: str
    lo: int
    hi: int
    attached: bool


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """A row of the `ledger_partitions` catalog (origin '' is the shared DEFAULT partition)."""

    origin: str
    tenant: str
    own_partition: bool
    suffix: str
    range_size: int
    created_at: str
    detached: tuple[SeqRange, ...]
    detached_at: str | None

    @property
    def events_table(self) -> str:
        """The events list partition holding this origin's rows."""
        return "ledger_events_" + (self.suffix if self.own_partition else "default")


def ensure_ranges(conn: psycopg.Connection, origin: str, upto_seq: int) -> None:
    """Make sure a range partition exists for every seq <= `upto_seq` of `origin` (and one
    spare range). One indexed dictionary lookup unless the batch nears the cached bound."""
    known = _bounds.get(conn)
    now = time.monotonic()
    if known is not None:
        below, at = known.get(origin, (-1, 0.0))
        if upto_seq < below and now - at < _CACHE_SECONDS:
            return
    row = conn.execute(query("ensure_ranges"), (origin, upto_seq)).fetchone()
    if row is None:
        return
    hi, size, created = int(row[0]), int(row[1]), int(row[2])
    if not created:  # made now: rolled back with the batch if it fails, so not cached yet
        _bounds.setdefault(conn, {})[origin] = (hi - size, now)


def ensure_batch(conn: psycopg.Connection, rows: Sequence[Accepted]) -> None:
    """`ensure_ranges` for each origin of a batch about to be COPYed."""
    top: dict[str, int] = defaultdict(int)
    for row in rows:
        top[row.origin] = max(top[row.origin], row.seq)
    for origin, seq in top.items():
        ensure_ranges(conn, origin, seq)


def guard_keys(conn: psycopg.Connection, rows: Sequence[Accepted]) -> None:
    """The guard rows of a batch (a unique violation names the duplicate key)."""
    conn.execute(
        query("guard_keys"),
        (
            [r.event_id for r in rows],
            [r.run_id for r in rows],
            [r.run_seq for r in rows],
            [r.origin for r in rows],
        ),
    )


def _ranges(raw: str) -> tuple[SeqRange, ...]:
    found: list[SeqRange] = []
    for item in json.loads(raw):
        tables = item.get("tables") or [""]
        found.append(SeqRange(",".join(tables), int(item["lo"]), int(item["hi"]), False))
    return tuple(found)


def partition_catalog(conn: psycopg.Connection) -> list[PartitionInfo]:
    """Every row of the catalog, the DEFAULT partition first."""
    return [_catalog_row(r) for r in conn.execute(query("partition_catalog")).fetchall()]


def _catalog_row(r: tuple[object, ...]) -> PartitionInfo:
    created, detached_at = r[5], r[7]
    return PartitionInfo(
        str(r[0]), str(r[1]), bool(r[2]), str(r[3]), int(str(r[4])), str(created),
        _ranges(str(r[6])), None if detached_at is None else str(detached_at),
    )  # fmt: skip


def _info(conn: psycopg.Connection, origin: str) -> PartitionInfo:
    catalog = {p.origin: p for p in partition_catalog(conn)}
    mine = catalog.get(origin)
    if mine is not None and mine.own_partition and mine.detached_at is None:
        return mine
    return catalog[""]


def seq_ranges(conn: psycopg.Connection, origin: str) -> list[SeqRange]:
    """The seq range partitions holding `origin`'s events: attached ones (shared with every
    origin without a partition of its own when `origin` has none) and detached ones."""
    info = _info(conn, origin)
    rows = conn.execute(query("seq_ranges"), (info.events_table,)).fetchall()
    attached = [SeqRange(str(r[0]), int(r[1]), int(r[2]), True) for r in rows]
    return sorted([*attached, *info.detached], key=lambda r: (r.lo, r.hi))


def _owner_call(conn: psycopg.Connection, name: str, params: tuple[object, ...]) -> object:
    try:
        with conn.transaction():
            row = conn.execute(query(name), params).fetchone()
    except (psycopg.errors.RaiseException, psycopg.errors.InvalidParameterValue,
            psycopg.errors.ObjectInUse, psycopg.errors.DuplicateTable,
            psycopg.errors.InsufficientPrivilege) as exc:  # fmt: skip
        raise PartitionError(exc.diag.message_primary or str(exc)) from None
    return row[0] if row else None


def own_partition(conn: psycopg.Connection, origin: str, tenant: str, range_size: int) -> int:
    """Give `origin` a partition of its own in every log table (owner only, one transaction);
    returns how many stored events moved out of the DEFAULT partition (ledger_own_partition
    in migration 0026 explains how the append-only trigger is handled)."""
    _bounds.pop(conn, None)
    return int(str(_owner_call(conn, "own_partition", (origin, tenant, range_size))))


def detach_range(
    conn: psycopg.Connection, origin: str, lo: int, hi: int, *, drop: bool
) -> list[str]:
    """Detach (or drop) the range partitions covering exactly [lo, hi) of `origin` (owner only;
    refused for a range not covered by whole partitions or holding the newest checkpoint's
    tail, and for an origin without a partition of its own). Returns the tables."""
    found = _owner_call(conn, "detach_range", (origin, lo, hi, drop))
    return [str(t) for t in found] if isinstance(found, list) else []


def detach_tenant(conn: psycopg.Connection, tenant: str) -> list[str]:
    """Detach `tenant`'s own partitions of every log table (owner only; refused while intake
    holds its events). Returns the tables, now standalone and still append-only."""
    mine = [
        p
        for p in partition_catalog(conn)
        if p.tenant == tenant and p.origin and p.own_partition and p.detached_at is None
    ]
    if not mine:
        raise PartitionError(f"tenant {tenant} has no attached partition of its own")
    found = _owner_call(conn, "detach_tenant", (mine[0].origin,))
    return [str(t) for t in found] if isinstance(found, list) else []


def detached_tenants(conn: psycopg.Connection) -> list[DetachedLog]:
    """The tenants `ledger tenants detach` took out, with the final size and root the catalog
    kept for them (what `ledger verify` reports, since their logs are no longer read)."""
    try:
        with conn.transaction():  # a savepoint: a ledger not yet at migration 0026 has none
            rows = conn.execute(query("detached_tenants")).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege):
        # no catalog, or a tenant-confined reader: the catalog names every tenant, so it is not
        # granted to readers, and their verify covers their own tenant's log only
        return []
    return [DetachedLog(str(o), str(t), str(at), None if n is None else int(n), r)
            for o, t, at, n, r in rows]  # fmt: skip


def mark_detached(
    conn: psycopg.Connection, origin: str, *, lo: int, size: int, root: str, tables: Sequence[str]
) -> None:
    """Keep the final size and root of a detached tenant in its catalog row, as the range
    [lo, size) it took out (`tenants list` shows it; `verify` reports it)."""
    params = {"origin": origin, "lo": lo, "size": size, "root": root, "tables": list(tables)}
    conn.execute(query("tenant_detached_final"), params)
