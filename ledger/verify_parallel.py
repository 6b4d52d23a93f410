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
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg.pq import TransactionStatus

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import LedgerError
from ledger.merkle import CompactRange
from ledger.note import Checkpoint, Verifier
from ledger.store.read import checkpoints as stored_checkpoints
from ledger.store.read import origins
from ledger.store.scan import rows_outside
from ledger.verify import key_ring, trusted_verifiers, verify_ledger
from ledger.verify_bulk import Suspect, bulk_scan
from ledger.verify_chunks import (
    CHUNK_ENV,
    Chunk,
    StampResult,
    StampTask,
    attach,
    chunk_size,
    fold_root,
    plan,
    scan_chunk,
    stamp_check,
)
from ledger.verify_report import VerifyReport
from ledger.verify_rows import Invalid
from ledger.verify_stamps import check_stamps
from ledger.witness import CosignatureVerifier

__all__ = ["AHEAD_PER_JOB", "CHUNK_ENV", "verify_parallel"]

log = logging.getLogger(__name__)

AHEAD_PER_JOB = 4
"""Tasks in flight per worker: enough to keep it busy while the parent checks signatures."""


class _Parallel:
    """The stamp check and the chunks of every origin, queued in the order the parent uses
    them; `scan` stitches one origin, `stamps` replays its stamp check.

    Up to `AHEAD_PER_JOB` tasks per worker are in flight, so the workers run ahead on the next
    origins while the parent checks this one's signatures, and the results waiting for the
    parent stay bounded (each holds one entry per run the chunk touched). Each origin's stamp
    check (one hash chain: the longest single task) is queued first, beside its chunks."""

    def __init__(
        self,
        conn: psycopg.Connection,
        pool: ProcessPoolExecutor,
        names: Sequence[str],
        pin: Checkpoint | None,
        jobs: int,
        *,
        trusted: Sequence[Verifier],
    ) -> None:
        self.size, self.pool, self.ahead = chunk_size(), pool, AHEAD_PER_JOB * jobs
        self.chunks: dict[str, list[Chunk]] = {}
        self.stamp_tasks: dict[str, StampTask] = {}
        self.queue: deque[Chunk | StampTask] = deque()
        self.pending: dict[Chunk | StampTask, Future[Any]] = {}
        for origin in names:
            row = conn.execute(query("verify_log_end"), (origin,)).fetchone()
            end = int(row[0]) if row else 0
            sizes = [c.tree_size for c in stored_checkpoints(conn, origin)]
            if pin is not None and pin.origin == origin:
                sizes.append(pin.size)
            self.chunks[origin] = plan(origin, end, sizes, self.size)
            try:
                ring = tuple(key_ring(conn, origin, trusted).verifiers())
            except Invalid:  # verify fails on it before the stamps: nothing to run ahead
                ring = None
            if ring is not None:
                self.stamp_tasks[origin] = StampTask(origin, ring, end)
                self.queue.append(self.stamp_tasks[origin])
            self.queue.extend(self.chunks[origin])
        self._top_up()

    def _top_up(self) -> None:
        while self.queue and len(self.pending) < self.ahead:
            item = self.queue.popleft()
            self.pending[item] = self._submit(item)

    def _submit(self, item: Chunk | StampTask) -> Future[Any]:
        if isinstance(item, Chunk):
            return self.pool.submit(scan_chunk, item)
        return self.pool.submit(stamp_check, item)

    def _result(self, item: Chunk | StampTask) -> Any:
        """The worker's result for `item` (submitted now if it was still queued)."""
        future = self.pending.pop(item, None)
        if future is None:
            self.queue.remove(item)
            future = self._submit(item)
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

    def stamps(
        self, conn: psycopg.Connection, origin: str, verifiers: Sequence[Verifier], size: int
    ) -> int:
        """`check_stamps`'s outcome from the worker that ran it; the parent runs it itself when
        the worker doubted or was asked about another size or key ring."""
        task = self.stamp_tasks.pop(origin, None)
        if task is not None and task.size == size and list(task.verifiers) == list(verifiers):
            try:
                done: StampResult = self._result(task)
            except Suspect:
                done = StampResult(task, doubt="worker")
            if done.invalid is not None:
                raise Invalid(*done.invalid)
            if done.unstamped is not None:
                return done.unstamped
        log.info("verify --jobs: %s stamps checked serially", origin)
        return check_stamps(conn, origin, verifiers, size)

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
                if want is not None and fold_root((*upper.hashes, local)) != want:
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
            initializer=attach,
            initargs=(_worker_dsn(conn), snapshot),
        )
        try:
            trusted = list(verifiers) if verifiers is not None else trusted_verifiers(settings)
            scanner = _Parallel(conn, pool, names, pin, jobs, trusted=trusted)
            return verify_ledger(
                conn, settings, verifiers=trusted, pin=pin, only_origin=only_origin,
                witnesses=witnesses, scan=scanner.scan, stamps=scanner.stamps,
            )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
