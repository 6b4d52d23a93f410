"""`ledger verify --jobs N`: the bulk pass of full verify split across worker processes.

Why: one verifier core reads about 200k events/s, an hour per billion events. The leaves, the
projection columns and the run chains of a seq range can be checked without the rest of the log,
and a Merkle tree is made of perfect subtrees, so each origin's log is cut into power-of-two
aligned chunks of `LEDGER_VERIFY_CHUNK` events (default 2^18). A worker (its own process and
connection) checks one chunk with the bulk pass's own batch decoding (`ledger.verify_bulk`) and
returns only what crosses a chunk edge: the root of the chunk's own subtree at every
checkpoint size inside it and at its end, and per run the first (run_seq, prev_run_hash) and the
last (run_seq, leaf) it saw. The parent stitches those into every checkpoint root and every run
chain; everything else (checkpoint signatures, key ring, stamps, payloads, pin, witnesses) is
`ledger.verify` itself, unchanged, in the parent.

Every worker reads the parent's snapshot (`pg_export_snapshot()` in the parent's REPEATABLE READ
transaction, `SET TRANSACTION SNAPSHOT` in each worker), so all of them see one ledger. Like the
bulk pass, this never explains a failure: on any doubt (a worker's error, a short chunk, a
stitched chain or root that does not match) the origin runs through the serial path, so the
first bad seq, the reason and the whole report are exactly those of `--jobs 1`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import conninfo, sql
from psycopg.pq import TransactionStatus

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import InputError, LedgerError
from ledger.eventhead import EventHead
from ledger.gcpause import gc_paused
from ledger.merkle import CompactRange, node_hash
from ledger.note import Checkpoint, Verifier
from ledger.readahead import read_ahead
from ledger.store.read import checkpoints as stored_checkpoints
from ledger.store.read import origins
from ledger.store.scan import rows_outside, verify_batch
from ledger.verify import verify_ledger
from ledger.verify_bulk import BATCH_ROWS, Suspect, _Scan, bulk_scan
from ledger.verify_report import VerifyReport
from ledger.witness import CosignatureVerifier

__all__ = ["CHUNK_ENV", "DEFAULT_CHUNK", "Chunk", "ChunkResult", "chunk_size", "verify_parallel"]

log = logging.getLogger(__name__)

CHUNK_ENV = "LEDGER_VERIFY_CHUNK"
DEFAULT_CHUNK = 1 << 18
"""Events per chunk: a few seconds of one worker, so 10M events in 4 tenants make ~40 chunks."""
AHEAD_PER_JOB = 4
"""Chunks in flight per worker: enough to keep it busy while the parent checks stamps."""


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
        super().__init__(chunk.origin, {}, lambda seq, value: self.found.append((seq, value)))
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


def _attach(dsn: str, snapshot: str) -> None:
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


def _root(hashes: Sequence[bytes]) -> bytes:
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


class _Parallel:
    """The chunks of every origin, queued in the order the parent stitches them; `scan`
    stitches one origin.

    Up to `AHEAD_PER_JOB` chunks per worker are in flight, so the workers run ahead on the next
    origins while the parent checks this one's signatures and stamps, and the results waiting
    for the parent stay bounded (each holds one entry per run the chunk touched)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        pool: ProcessPoolExecutor,
        names: Sequence[str],
        pin: Checkpoint | None,
        jobs: int,
    ) -> None:
        self.size, self.pool, self.ahead = chunk_size(), pool, AHEAD_PER_JOB * jobs
        self.chunks: dict[str, list[Chunk]] = {}
        self.queue: deque[Chunk] = deque()
        self.pending: dict[Chunk, Future[ChunkResult]] = {}
        for origin in names:
            row = conn.execute(query("verify_log_end"), (origin,)).fetchone()
            sizes = [c.tree_size for c in stored_checkpoints(conn, origin)]
            if pin is not None and pin.origin == origin:
                sizes.append(pin.size)
            self.chunks[origin] = plan(origin, int(row[0]) if row else 0, sizes, self.size)
            self.queue.extend(self.chunks[origin])
        self._top_up()

    def _top_up(self) -> None:
        while self.queue and len(self.pending) < self.ahead:
            chunk = self.queue.popleft()
            self.pending[chunk] = self.pool.submit(scan_chunk, chunk)

    def _result(self, chunk: Chunk) -> ChunkResult:
        """The worker's result for `chunk` (submitted now if it was still queued)."""
        future = self.pending.pop(chunk, None)
        if future is None:
            self.queue.remove(chunk)
            future = self.pool.submit(scan_chunk, chunk)
        self._top_up()
        try:
            return future.result()
        except Exception as exc:  # a worker that could not start (BrokenProcessPool)
            raise Suspect(f"worker: {type(exc).__name__}") from None

    def scan(
        self,
        conn: psycopg.Connection,
        origin: str,
        targets: dict[int, bytes],
        scan_private: Callable[..., None] | None,
    ) -> int:
        """`bulk_scan`'s contract from the workers' results; any doubt runs `bulk_scan` itself
        (which hands a real failure to the row pass, exactly as `--jobs 1` does)."""
        chunks = self.chunks.pop(origin, None)
        if chunks is None:
            return bulk_scan(conn, origin, targets, scan_private)
        try:
            size, private = self._stitch(chunks, targets)
            if rows_outside(conn, origin, size):
                raise Suspect("rows outside 0..size")
        except Suspect as doubt:
            log.info("verify --jobs: %s runs serially (%s)", origin, doubt)
            return bulk_scan(conn, origin, targets, scan_private)
        log.info("verify --jobs: %s stitched from %d chunks", origin, len(chunks))
        if scan_private is not None:
            for seq, value in private:
                scan_private(seq, value)
        return size

    def _stitch(
        self, chunks: list[Chunk], targets: dict[int, bytes]
    ) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """Join the chunks in seq order: run chains across edges, the root at every target."""
        upper = CompactRange()  # the full chunks' roots, one "leaf" per chunk
        heads: dict[str, tuple[int, str]] = {}
        private: list[tuple[int, dict[str, Any]]] = []
        rooted: set[int] = set()
        size = 0
        for chunk in chunks:
            part = self._result(chunk)
            if part.doubt is not None or part.roots is None:
                raise Suspect(part.doubt or "no roots")
            if part.chunk.lo != size or part.firsts is None or part.lasts is None:
                raise Suspect("chunk order")
            for run, first in part.firsts.items():
                head = heads.get(run)
                if first != ((0, None) if head is None else (head[0] + 1, head[1])):
                    raise Suspect("chain across chunks")
            heads.update(part.lasts)
            for at, local in part.roots.items():
                want = targets.get(at)
                if want is not None and _root((*upper.hashes, local)) != want:
                    raise Suspect("root")
                rooted.add(at)
            private.extend(part.private)
            size = part.chunk.hi
            if size - part.chunk.lo == self.size:
                upper.append(part.roots[size])
        if any(0 < at <= size and at not in rooted for at in targets):
            raise Suspect("a target size no chunk rooted")
        return size, private


def _worker_dsn(conn: psycopg.Connection) -> str:
    """The parent's own connection string (same server, primary or replica), with its password."""
    password = conn.info.password
    return conninfo.make_conninfo(conn.info.dsn, password=password) if password else conn.info.dsn


class _NoSnapshot(LedgerError):
    """The server would not export a snapshot: the workers cannot share the parent's."""


def _export(conn: psycopg.Connection) -> str:
    """The snapshot id of the open transaction (not from a savepoint: PostgreSQL refuses to
    export a subtransaction's snapshot, so a refusal aborts the transaction)."""
    try:
        row = conn.execute(query("export_snapshot")).fetchone()
    except psycopg.Error as exc:
        raise _NoSnapshot(str(exc)) from None
    return str(row[0]) if row else ""


def verify_parallel(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    jobs: int,
    verifiers: Sequence[Verifier] | None = None,
    pin: Checkpoint | None = None,
    only_origin: str | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
) -> VerifyReport:
    """`verify_ledger` with its bulk pass on `jobs` worker processes; the same report.

    With one job, a connection already inside a transaction (whose snapshot the workers could
    not share), or a server that will not export a snapshot, this is `verify_ledger` itself."""
    serial = conn.info.transaction_status != TransactionStatus.IDLE or not conn.autocommit
    if jobs > 1 and not serial:
        chunk_size()  # a bad LEDGER_VERIFY_CHUNK is refused before any process starts
        try:
            return _in_workers(conn, settings, jobs, verifiers, pin, only_origin, witnesses)
        except _NoSnapshot as exc:
            log.info("verify --jobs: no exported snapshot (%s); verifying serially", exc)
    return verify_ledger(
        conn, settings, verifiers=verifiers, pin=pin, only_origin=only_origin,
        witnesses=witnesses,
    )


def _in_workers(  # noqa: PLR0917 - verify_parallel's arguments, passed on once
    conn: psycopg.Connection,
    settings: Settings,
    jobs: int,
    verifiers: Sequence[Verifier] | None,
    pin: Checkpoint | None,
    only_origin: str | None,
    witnesses: Sequence[CosignatureVerifier],
) -> VerifyReport:
    """Export the parent's snapshot, queue every origin's chunks, and verify with them."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = _export(conn)
        names = [only_origin] if only_origin else origins(conn)
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_attach,
            initargs=(_worker_dsn(conn), snapshot),
        )
        try:
            scanner = _Parallel(conn, pool, names, pin, jobs)
            return verify_ledger(
                conn, settings, verifiers=verifiers, pin=pin, only_origin=only_origin,
                witnesses=witnesses, scan=scanner.scan,
            )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
