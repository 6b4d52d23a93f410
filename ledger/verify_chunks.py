"""The worker side of `ledger verify --jobs N` (ledger.verify_parallel): one chunk of one log,
or one log's stamp check, in the parent's exported snapshot.

Its own module so that a spawned worker imports only what it runs: the bulk pass's batch
decoding (`ledger.verify_bulk`), the stamp check, and one connection.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ledger.errors import InputError
from ledger.eventhead import EventHead
from ledger.gcpause import gc_paused
from ledger.merkle import node_hash
from ledger.note import Verifier
from ledger.readahead import read_ahead
from ledger.store.scan import verify_batch
from ledger.verify_bulk import BATCH_ROWS, Suspect, _Scan
from ledger.verify_rows import Invalid
from ledger.verify_stamps import check_stamps

__all__ = [
    "CHUNK_ENV",
    "DEFAULT_CHUNK",
    "Chunk",
    "ChunkResult",
    "ChunkSizeError",
    "StampResult",
    "StampTask",
    "attach",
    "chunk_size",
    "fold_root",
    "plan",
    "scan_chunk",
    "stamp_check",
]

CHUNK_ENV = "LEDGER_VERIFY_CHUNK"
DEFAULT_CHUNK = 1 << 18
"""Events per chunk: a few seconds of one worker, so 10M events in 4 tenants make ~40 chunks."""


class ChunkSizeError(InputError):
    """LEDGER_VERIFY_CHUNK is not a power of two (a usage error: exit 2)."""


def chunk_size() -> int:
    """The chunk size from LEDGER_VERIFY_CHUNK (a power of two: chunks must be perfect subtrees)."""
    raw = os.environ.get(CHUNK_ENV, "").strip()
    size = int(raw) if raw.isdigit() else DEFAULT_CHUNK if not raw else 0
    if size < 1 or size & (size - 1):
        raise ChunkSizeError(f"{CHUNK_ENV} must be a power of two, got {raw!r}")
    return size


@dataclass(frozen=True)
class Chunk:
    """Seqs [lo, hi) of one origin; `sizes` are the checkpoint sizes in (lo, hi] to root."""

    origin: str
    lo: int
    hi: int
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class ChunkResult:
    """What a worker hands back: only what crosses the chunk's edges (or why it doubts)."""

    chunk: Chunk
    doubt: str | None = None
    roots: dict[int, bytes] | None = None  # size -> root of the chunk's own tree [lo, size)
    firsts: dict[str, tuple[int, str | None]] | None = None  # run -> first (run_seq, prev hash)
    lasts: dict[str, tuple[int, str]] | None = None  # run -> last (run_seq, leaf hex)
    private: tuple[tuple[int, dict[str, Any]], ...] = ()  # (seq, body) for the payload scanner


class _ChunkScan(_Scan):
    """The bulk pass over one chunk: runs may have begun before it, and the tree starts at lo."""

    def __init__(self, chunk: Chunk) -> None:
        self.found: list[tuple[int, dict[str, Any]]] = []
        super().__init__(chunk.origin, {}, lambda seq, value: self.found.append((seq, value)), None)
        self.size = chunk.lo
        self.sizes = sorted({*chunk.sizes, chunk.hi})
        self.firsts: dict[str, tuple[int, str | None]] = {}
        self.roots: dict[int, bytes] = {}

    def _chains(self, decoded: list[EventHead], ours: list[bytes]) -> None:
        """As the bulk pass, except that a run's first event here is kept for the parent."""
        tenant, heads, firsts = self.tenant, self.heads, self.firsts
        for h, leaf in zip(decoded, ours, strict=True):
            if h.tenant != tenant:
                raise Suspect("tenant")
            head = heads.get(h.run_id)
            if head is None:
                firsts[h.run_id] = (h.run_seq, h.prev_run_hash)
            elif h.run_seq != head[0] + 1 or h.prev_run_hash != head[1]:
                raise Suspect("chain")
            heads[h.run_id] = (h.run_seq, leaf.hex())

    def _extend(self, start: int, ours: list[bytes]) -> None:
        """Append the leaves to the chunk's own tree, keeping its root at every size asked.

        The chunk starts at a multiple of its power-of-two length, so its frontier at any size
        inside it is exactly the perfect subtrees the whole tree's frontier ends with, and the
        whole tree's root is the frontier before the chunk folded onto the chunk's own root
        (the fold runs right to left): one hash per size is all the parent needs."""
        tree, end, at = self.tree, start + len(ours), start
        for size in (s for s in self.sizes if start < s <= end):
            tree.append_many(ours[at - start : size - start])
            at = size
            self.roots[size] = tree.root()
        tree.append_many(ours[at - start :])
        self.size = end


_worker_conn: psycopg.Connection | None = None


def attach(dsn: str, snapshot: str) -> None:
    """Worker start: one connection, one transaction, in the parent's exported snapshot."""
    global _worker_conn  # noqa: PLW0603 - one connection per worker process, kept for its chunks
    conn = psycopg.connect(dsn)  # not autocommit: the snapshot lives as long as the transaction
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    _worker_conn = conn


def _batches(conn: psycopg.Connection, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
    cursor = conn.cursor(binary=True)
    start = chunk.lo
    while start < chunk.hi:
        row = verify_batch(cursor, chunk.origin, start, min(start + BATCH_ROWS, chunk.hi))
        if row is None or not row[0]:
            return
        yield (start, *row)
        start += int(row[0])


def scan_chunk(chunk: Chunk) -> ChunkResult:
    """In a worker: check one chunk batch by batch (memory: two batches); never raises."""
    try:
        if _worker_conn is None:
            return ChunkResult(chunk, doubt="worker has no connection")
        scan = _ChunkScan(chunk)
        with gc_paused(), closing(read_ahead(_batches(_worker_conn, chunk))) as batches:
            for batch in batches:
                scan.take(*batch)
        if scan.size != chunk.hi:
            return ChunkResult(chunk, doubt="chunk short of rows")
        return ChunkResult(
            chunk, None, scan.roots, scan.firsts, dict(scan.heads), tuple(scan.found)
        )
    except Exception as exc:  # any doubt, a database error included: the parent re-runs serially
        return ChunkResult(chunk, doubt=f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class StampTask:
    """The stamp check of one origin, run in a worker on the shared snapshot."""

    origin: str
    verifiers: tuple[Verifier, ...]
    size: int


@dataclass(frozen=True)
class StampResult:
    """`check_stamps`'s outcome: the unstamped count, or its Invalid, or a doubt."""

    task: StampTask
    unstamped: int | None = None
    invalid: tuple[int | None, str, str] | None = None
    doubt: str | None = None


def stamp_check(task: StampTask) -> StampResult:
    """In a worker: the very `check_stamps` of `ledger.verify`, its verdict kept for the parent
    (the one serial hash chain per log, so it runs beside the chunks instead of after them)."""
    try:
        if _worker_conn is None:
            return StampResult(task, doubt="worker has no connection")
        try:
            found = check_stamps(_worker_conn, task.origin, task.verifiers, task.size)
        except Invalid as bad:
            return StampResult(task, invalid=(bad.seq, bad.reason, bad.verdict))
        return StampResult(task, unstamped=found)
    except Exception as exc:  # any doubt: the parent checks the stamps itself
        return StampResult(task, doubt=f"{type(exc).__name__}: {exc}")


def fold_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a tree given its frontier (perfect subtree roots, largest first)."""
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def plan(origin: str, end: int, sizes: Sequence[int], size: int) -> list[Chunk]:
    """Seqs [0, end) of `origin` as aligned chunks of `size`, each with its checkpoint sizes."""
    ordered = sorted(sizes)
    return [
        Chunk(
            origin, lo, min(lo + size, end),
            tuple(ordered[bisect_right(ordered, lo) : bisect_right(ordered, lo + size)]),
        )
        for lo in range(0, end, size)
    ]
