"""`ledger check` over many runs: bulk reads, cheap decoding, optional worker processes.

Checking run by run (one query per run, pydantic decoding, one verdict round trip per run)
ran at ~13,000 events/s, far below the 100,000 events/s target (issue 5). Here a chunk of runs
is read with one query returning one row per run (bodies joined in run order), decoded with
`replay.fastdecode`, joined with approval decisions recorded in other runs (one query per
chunk, see `replay.dbread`), folded, checked, and its verdicts are replaced in one DELETE +
COPY. Chunks are independent, so with `jobs > 1` they are handed to forked worker processes
(each with its own connection); results are collected in chunk order, so the report and the
stored verdicts are identical to a serial run. Small batches always run in-process.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import multiprocessing.util
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, LiteralString

import psycopg

from ledger.config import Settings
from ledger.db.connect import connect
from replay.dbread import call_ids
from replay.fastdecode import Row, decode_run, group_rows
from replay.ledgerdb import find_policy
from replay.policy import EVALUATOR_VERSION, CompiledPack, LoadedPack, Verdict, check_run
from replay.policy import compile_pack as _compile
from replay.policy.diff import diff_verdicts
from replay.state import fold

__all__ = ["BatchResult", "check_runs", "window_run_ids"]

WINDOW_RUNS: LiteralString = (
    "SELECT run_id FROM ledger_events WHERE type = 'run.started' "
    "AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s) "
    "AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s) "
    "ORDER BY occurred_at, seq"
)
# One row per run: its bodies newline-joined in run order (see fastdecode.decode_run), seqs
# and record times as arrays. Versus one row per event this halves client CPU (no per-row
# protocol/adaptation work) and server time (no row-by-row output, no wide sort to disk).
RUNS_JOINED: LiteralString = (
    "SELECT uuid_send(run_id), (array_agg(origin ORDER BY run_seq))[1], "
    "array_agg(seq ORDER BY run_seq), array_agg(recorded_at ORDER BY run_seq), "
    "string_agg(body, '\\x0a'::bytea ORDER BY run_seq) "
    "FROM ledger_events WHERE run_id = ANY(%s::uuid[]) GROUP BY run_id"
)
# Fallback for a run whose joined bodies do not split cleanly (never for canonical bodies).
CHUNK_ROWS: LiteralString = (
    "SELECT uuid_send(run_id), origin, seq, recorded_at, body FROM ledger_events "
    "WHERE run_id = ANY(%s::uuid[])"
)
DECISIONS: LiteralString = (
    "SELECT uuid_send(run_id), origin, seq, recorded_at, body FROM ledger_events "
    "WHERE type = 'approval.decided' AND origin = %s "
    "AND ledger_decided_call(body) = ANY(%s::text[])"
)
# Chunk queries are small and many; PostgreSQL's own parallel workers only add start-up cost
# on the same cores the checkers use.
SERIAL_SCAN: LiteralString = "SET LOCAL max_parallel_workers_per_gather = 0"
# The per-chunk sort by (run_id, run_seq) is ~20 MB: keep it in memory, not in temp files.
SORT_MEMORY: LiteralString = "SET LOCAL work_mem = '64MB'"
# Verdicts are derived, re-computable rows: a crash may lose the last chunk's, so do not wait
# for the WAL flush of every chunk.
LAZY_COMMIT: LiteralString = "SET LOCAL synchronous_commit = off"
DELETE_VERDICTS: LiteralString = (
    "DELETE FROM ledger_verdicts v USING unnest(%s::uuid[], %s::text[]) AS k(run_id, policy) "
    "WHERE v.run_id = k.run_id AND v.policy_hash = k.policy AND v.evaluator_version = %s"
)
COPY_VERDICTS: LiteralString = (
    "COPY ledger_verdicts (run_id, policy_hash, evaluator_version, rule_id, outcome, "
    "explanation, evidence, through_seq) FROM STDIN"
)
# A chunk keeps ~25k decoded events and their records alive while it is checked; with the
# default gen-0 threshold (700) the collector rescans them thousands of times (~25% of CPU).
# Folding makes almost no reference cycles, so collect rarely while checking (restored after).
_GC_THRESHOLDS = (50_000, 20, 100)
CHUNK_RUNS = 250  # runs per unit of work: big enough to amortise queries, small for balance
MIN_PARALLEL_RUNS = 4 * CHUNK_RUNS


@dataclasses.dataclass
class BatchResult:
    """Per-run report entries in input order, events folded, whether any rule failed."""

    entries: list[dict[str, Any]]
    events: int
    failed: bool
    missing: list[uuid.UUID]  # asked-for runs without a single stored event


@dataclasses.dataclass
class _Job:
    settings: Settings
    fixed: LoadedPack | None
    other: LoadedPack | None


class _Worker:
    """Per-process state: a connection and compiled packs (CEL compiled once per process)."""

    def __init__(self, job: _Job, conn: psycopg.Connection[Any] | None = None) -> None:
        self.conn = conn if conn is not None else connect(job.settings)
        self.fixed = _compile(job.fixed) if job.fixed is not None else None
        self.other = _compile(job.other) if job.other is not None else None
        self.in_force: dict[str, CompiledPack | None] = {}

    def pack_for(self, policy_hash: str) -> CompiledPack | None:
        if policy_hash not in self.in_force:
            loaded = find_policy(self.conn, policy_hash)
            self.in_force[policy_hash] = _compile(loaded) if loaded is not None else None
        return self.in_force[policy_hash]

    def chunk(self, run_ids: Sequence[uuid.UUID]) -> list[tuple[dict[str, Any] | None, int]]:
        """(report entry or None for a skipped run, events folded) per run, in input order.

        A run without events is reported as (None, -1) so the caller can name it.
        """
        by_run = _read_chunk(self.conn, run_ids)
        decisions = _decisions(self.conn, by_run)
        out: list[tuple[dict[str, Any] | None, int]] = []
        saves: list[tuple[str, str, Sequence[Verdict], int | None]] = []
        for rid in run_ids:
            rows = by_run.get(rid)
            if not rows or rows[0].event.type == "policy.published":
                out.append((None, 0 if rows else -1))
                continue
            state = fold(rows, decisions=decisions.get(rid, ()))
            pack = self.fixed
            if pack is None:
                seen = state.versions.policy_hashes_seen
                pack = self.pack_for(seen[0]) if seen else None
                if pack is None:
                    why = (
                        "records no policy_hash"
                        if not seen
                        else f"ran under policy {seen[0][:12]}, which is not published"
                    )
                    verdicts = [
                        Verdict(
                            "policy.in_force",
                            "unknown",
                            f"run {why}",
                            (str(rows[0].event.event_id),),
                        )
                    ]
            if pack is not None:
                verdicts = check_run(pack, state)
                saves.append((str(rid), pack.policy_hash, verdicts, state.at_seq))
            entry: dict[str, Any] = {
                "run_id": str(rid),
                "policy_hash": pack.policy_hash if pack else None,
                "verdicts": [v.to_json() for v in verdicts],
            }
            if self.other is not None:
                alt = check_run(self.other, state)
                entry["what_if"] = {
                    "policy_hash": self.other.policy_hash,
                    "verdicts": [v.to_json() for v in alt],
                    "diff": diff_verdicts(verdicts, alt).to_json(),
                }
            out.append((entry, len(rows)))
        _save(self.conn, saves)
        return out


def window_run_ids(
    conn: psycopg.Connection[Any], since: datetime | None, until: datetime | None
) -> list[uuid.UUID]:
    """Runs started in [since, until), oldest first (the order `ledger runs` uses)."""
    rows = conn.execute(WINDOW_RUNS, {"since": since, "until": until}).fetchall()
    return [r[0] for r in rows]


def _read_chunk(
    conn: psycopg.Connection[Any], run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    by_run: dict[uuid.UUID, list[Row]] = {}
    odd: list[uuid.UUID] = []
    with conn.transaction(), conn.cursor(binary=True) as cur:
        cur.execute(SERIAL_SCAN)
        cur.execute(SORT_MEMORY)
        cur.execute(RUNS_JOINED, (list(run_ids),))
        for raw_id, origin, seqs, recorded, blob in cur.fetchall():
            run_id = uuid.UUID(bytes=bytes(raw_id))
            rows = decode_run(run_id, origin, seqs, recorded, bytes(blob))
            if rows is None:
                odd.append(run_id)
            else:
                by_run[run_id] = rows
        if odd:
            cur.execute(CHUNK_ROWS, (odd,))
            by_run.update(group_rows(cur.fetchall()))
    return by_run


def _decisions(
    conn: psycopg.Connection[Any], by_run: dict[uuid.UUID, list[Row]]
) -> dict[uuid.UUID, list[Row]]:
    """approval.decided events of other runs naming a call of each run, per run, by seq."""
    wanted: dict[str, dict[str, list[uuid.UUID]]] = {}  # origin -> call id -> runs
    for rid, rows in by_run.items():
        per_origin = wanted.setdefault(rows[0].origin, {})
        for call in call_ids(rows):
            per_origin.setdefault(call, []).append(rid)
    found: dict[uuid.UUID, list[Row]] = {}
    for origin, calls in wanted.items():
        if not calls:
            continue
        with conn.cursor(binary=True) as cur:
            cur.execute(DECISIONS, (origin, list(calls)))
            decided = [row for rows in group_rows(cur.fetchall()).values() for row in rows]
        for row in sorted(decided, key=lambda r: r.seq):
            for rid in calls.get(str(row.event.data.tool_call_id), ()):
                if rid != row.run_id:
                    found.setdefault(rid, []).append(row)
    return found


def _save(
    conn: psycopg.Connection[Any], saves: Sequence[tuple[str, str, Sequence[Verdict], int | None]]
) -> None:
    """Replace the verdicts of these (run, policy) pairs for this evaluator version."""
    if not saves:
        return
    with conn.transaction():
        conn.execute(LAZY_COMMIT)
        conn.execute(
            DELETE_VERDICTS, ([s[0] for s in saves], [s[1] for s in saves], EVALUATOR_VERSION)
        )
        lines: list[str] = []
        for run_id, policy_hash, verdicts, through in saves:
            head = f"{run_id}\t{policy_hash}\t{_copy_text(EVALUATOR_VERSION)}\t"
            tail = "\\N" if through is None else str(through)
            lines.extend(
                f"{head}{_copy_text(v.rule_id)}\t{v.outcome}\t"
                f"{_copy_text(v.explanation)}\t{{{','.join(v.evidence)}}}\t{tail}\n"
                for v in verdicts
            )
        with conn.cursor() as cur, cur.copy(COPY_VERDICTS) as copy:
            copy.write("".join(lines).encode())


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_text(value: str) -> str:
    """A text value in COPY text format (psycopg's write_row costs ~6 us per verdict row)."""
    return value.translate(_COPY_ESCAPES)


_STATE: dict[str, _Worker] = {}


def _init(job: _Job) -> None:
    gc.freeze()  # objects inherited from the parent: never scanned (nor copied on write)
    gc.set_threshold(*_GC_THRESHOLDS)
    worker = _STATE["w"] = _Worker(job)
    # close the worker's own connection when the pool shuts it down (after pool.close())
    multiprocessing.util.Finalize(worker, worker.conn.close, exitpriority=10)


def _run_chunk(run_ids: list[uuid.UUID]) -> list[tuple[dict[str, Any] | None, int]]:
    return _STATE["w"].chunk(run_ids)


def _chunks(run_ids: Sequence[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    for i in range(0, len(run_ids), CHUNK_RUNS):
        yield list(run_ids[i : i + CHUNK_RUNS])


def check_runs(
    conn: psycopg.Connection[Any],
    settings: Settings,
    run_ids: Sequence[uuid.UUID],
    *,
    fixed: LoadedPack | None = None,
    other: LoadedPack | None = None,
    jobs: int = 1,
) -> BatchResult:
    """Fold and check `run_ids` (against `fixed`, or each run's policy in force), save verdicts.

    Runs without events and policy.published runs are skipped. With `jobs > 1` and enough runs,
    chunks go to a pool of worker processes; the result is the same as with `jobs=1`.
    """
    job = _Job(settings, fixed, other)
    saved = gc.get_threshold()
    gc.set_threshold(*_GC_THRESHOLDS)
    try:
        return _check(conn, job, run_ids, jobs)
    finally:
        gc.set_threshold(*saved)


def _check(
    conn: psycopg.Connection[Any], job: _Job, run_ids: Sequence[uuid.UUID], jobs: int
) -> BatchResult:
    results: Iterator[list[tuple[dict[str, Any] | None, int]]]
    if jobs > 1 and len(run_ids) >= MIN_PARALLEL_RUNS:
        ctx = multiprocessing.get_context("fork")
        workers = min(jobs, -(-len(run_ids) // CHUNK_RUNS))  # no idle workers (connections)
        with ctx.Pool(workers, initializer=_init, initargs=(job,)) as pool:
            parts = list(pool.imap(_run_chunk, _chunks(run_ids)))
            pool.close()
            pool.join()
        results = iter(parts)
    else:
        worker = _Worker(job, conn)
        results = (worker.chunk(c) for c in _chunks(run_ids))
    entries: list[dict[str, Any]] = []
    missing: list[uuid.UUID] = []
    events = 0
    position = 0
    for part in results:
        for entry, n in part:
            if entry is not None:
                entries.append(entry)
                events += n
            elif n < 0:
                missing.append(run_ids[position])
            position += 1
    failed = any(v["outcome"] == "fail" for e in entries for v in e["verdicts"])
    return BatchResult(entries, events, failed, missing)
