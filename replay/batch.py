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
from typing import Any

import psycopg

from ledger.authority.recorded import RecordedTokens
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.errors import LedgerError
from ledger.privacy import PayloadOpener
from ledger.store import read
from ledger.store.verdicts import RunVerdicts, replace_verdicts
from replay.authority import RunAuthority, load_authority
from replay.dbread import call_ids
from replay.fastdecode import Row, decode_run, group_rows
from replay.identity import identity_of, prefetch_tokens
from replay.policy import EVALUATOR_VERSION, CompiledPack, LoadedPack, Verdict, check_run
from replay.policy import compile_pack as _compile
from replay.policy.diff import VerdictDiff, diff_verdicts
from replay.policy.inforce import PacksInForce, run_started
from replay.state import fold

__all__ = ["BatchResult", "RunCheck", "WhatIf", "check_runs", "window_run_ids"]

# A chunk keeps ~25k decoded events and their records alive while it is checked; with the
# default gen-0 threshold (700) the collector rescans them thousands of times (~25% of CPU).
# Folding makes almost no reference cycles, so collect rarely while checking (restored after).
_GC_THRESHOLDS = (50_000, 20, 100)
CHUNK_RUNS = 250  # runs per unit of work: big enough to amortise queries, small for balance
MIN_PARALLEL_RUNS = 4 * CHUNK_RUNS


@dataclasses.dataclass(frozen=True, slots=True)
class WhatIf:
    """The same run checked against another pack, and how the verdicts moved."""

    policy_hash: str
    verdicts: tuple[Verdict, ...]
    diff: VerdictDiff

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_hash": self.policy_hash,
            "verdicts": [v.to_json() for v in self.verdicts],
            "diff": self.diff.to_json(),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class RunCheck:
    """One run checked: the pack it was checked against (None if none is known), verdicts."""

    run_id: uuid.UUID
    policy_hash: str | None
    verdicts: tuple[Verdict, ...]
    what_if: WhatIf | None = None
    through_seq: int | None = None  # the run's last folded event

    @property
    def failures(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.outcome == "fail")

    def to_json(self) -> dict[str, Any]:
        """The entry of `ledger check --json`."""
        out: dict[str, Any] = {
            "run_id": str(self.run_id),
            "policy_hash": self.policy_hash,
            "verdicts": [v.to_json() for v in self.verdicts],
        }
        if self.what_if is not None:
            out["what_if"] = self.what_if.to_json()
        return out


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """Per-run results in input order, events folded, whether any rule failed."""

    entries: list[RunCheck]
    events: int
    failed: bool
    missing: list[uuid.UUID]  # asked-for runs without a single stored event

    def to_json(self) -> dict[str, Any]:
        return {"runs": [e.to_json() for e in self.entries], "failed": self.failed}


@dataclasses.dataclass
class _Job:
    settings: Settings
    fixed: CompiledPack | None
    other: CompiledPack | None
    root: TrustRoot | None = None
    save: bool = True  # False: a reader's recheck (`ledger tui --readonly`) writes nothing
    # registry histories per log origin, read once per check (inherited by forked workers)
    authorities: dict[str, RunAuthority] = dataclasses.field(default_factory=dict)


class _Worker:
    """Per-process state: a connection, the packs, and packs in force compiled on first use."""

    def __init__(self, job: _Job, conn: psycopg.Connection[Any] | None = None) -> None:
        self.conn = conn if conn is not None else connect(job.settings)
        self.fixed, self.other = job.fixed, job.other
        self.packs = PacksInForce(self.conn)
        self.root, self.authorities = job.root, job.authorities
        self.save = job.save
        self.opener = PayloadOpener(job.settings)  # opens recorded identity tokens (the KEK)

    def authority(self, origin: str) -> RunAuthority:
        """The registry history of `origin`'s log, read on first use."""
        found = self.authorities.get(origin)
        if found is None:
            found = self.authorities[origin] = load_authority(self.conn, origin, self.root)
        return found

    def tokens(self, by_run: dict[uuid.UUID, list[Row]]) -> dict[uuid.UUID, RecordedTokens]:
        """The recorded ID tokens of a chunk's runs, opened with one query per log (only when a
        trust root can judge them: without one every principal is asserted anyway)."""
        if self.root is None:
            return {}
        try:
            return prefetch_tokens(self.conn, self.opener, [rows[0] for rows in by_run.values()])
        except LedgerError:  # e.g. no KEK here: identity_of says why, run by run
            return {}

    def one(
        self, rid: uuid.UUID, rows: list[Row], decisions: Sequence[Row],
        tokens: dict[uuid.UUID, RecordedTokens] | None = None,
    ) -> RunCheck:
        """Fold one run and check it against the fixed pack, or the pack it ran under."""
        authority = self.authority(rows[0].origin)
        first = rows[0]
        found = tokens.get(uuid.UUID(str(first.event.event_id))) if tokens else None
        identity = identity_of(self.conn, self.opener, authority, first, found)
        state = fold(rows, decisions=decisions, authority=authority, identity=identity)
        pack, named = self.fixed, run_started(first.event.type, str(first.event.event_id))
        if pack is None:  # the pack in force in the run's own log, not the one it names
            agent = first.event.agent
            pack, in_force = self.packs.judge(first.origin, min(r.seq for r in rows),
                                              state.versions.policy_hashes_seen,
                                              str(first.event.event_id),
                                              agent=agent.name if agent else None,
                                              version=agent.version if agent else None)
            named += in_force
            if pack is None:
                return RunCheck(rid, None, named)
        verdicts = named + tuple(check_run(pack, state))
        what_if = None
        if self.other is not None:
            alt = tuple(check_run(self.other, state))
            what_if = WhatIf(self.other.policy_hash, alt, diff_verdicts(verdicts, alt))
        return RunCheck(rid, pack.policy_hash, verdicts, what_if, state.at_seq)

    def chunk(self, run_ids: Sequence[uuid.UUID]) -> list[tuple[RunCheck | None, int]]:
        """(result or None for a skipped run, events folded) per run, in input order.

        A run without events is reported as (None, -1) so the caller can name it.
        """
        by_run = _read_chunk(self.conn, run_ids)
        decisions = _decisions(self.conn, by_run)
        tokens = self.tokens(by_run)
        out: list[tuple[RunCheck | None, int]] = []
        saves: list[RunVerdicts] = []
        for rid in run_ids:
            rows = by_run.get(rid)
            if not rows or rows[0].event.type in ("policy.published", "registry.published"):
                out.append((None, 0 if rows else -1))
                continue
            checked = self.one(rid, rows, decisions.get(rid, ()), tokens)
            if checked.policy_hash is not None:
                hash_, through = checked.policy_hash, checked.through_seq
                saves.append(RunVerdicts(str(rid), hash_, checked.verdicts, through))
            out.append((checked, len(rows)))
        if self.save:
            replace_verdicts(self.conn, EVALUATOR_VERSION, saves)
        return out


def window_run_ids(
    conn: psycopg.Connection[Any], since: datetime | None, until: datetime | None
) -> list[uuid.UUID]:
    """Runs started in [since, until), oldest first (the order `ledger runs` uses)."""
    return read.runs_started_between(conn, since, until)


def _read_chunk(
    conn: psycopg.Connection[Any], run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    by_run: dict[uuid.UUID, list[Row]] = {}
    odd: list[uuid.UUID] = []
    for raw_id, origin, seqs, recorded, blob in read.runs_joined(conn, run_ids):
        run_id = uuid.UUID(bytes=bytes(raw_id))
        rows = decode_run(run_id, origin, seqs, recorded, bytes(blob))
        if rows is None:  # a run whose joined bodies do not split (never for canonical bodies)
            odd.append(run_id)
        else:
            by_run[run_id] = rows
    if odd:
        by_run.update(group_rows(read.runs_rows(conn, odd)))
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
        raw = read.decision_rows(conn, origin, list(calls))
        decided = [row for per_run in group_rows(raw).values() for row in per_run]
        for row in sorted(decided, key=lambda r: r.seq):
            for rid in calls.get(str(row.event.data.tool_call_id), ()):
                if rid != row.run_id:
                    found.setdefault(rid, []).append(row)
    return found


_STATE: dict[str, _Worker] = {}


def _init(job: _Job) -> None:
    gc.freeze()  # objects inherited from the parent: never scanned (nor copied on write)
    gc.set_threshold(*_GC_THRESHOLDS)
    worker = _STATE["w"] = _Worker(job)
    # close the worker's own connection when the pool shuts it down (after pool.close())
    multiprocessing.util.Finalize(worker, worker.conn.close, exitpriority=10)


def _run_chunk(run_ids: list[uuid.UUID]) -> list[tuple[RunCheck | None, int]]:
    return _STATE["w"].chunk(run_ids)


def _chunks(run_ids: Sequence[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    for i in range(0, len(run_ids), CHUNK_RUNS):
        yield list(run_ids[i : i + CHUNK_RUNS])


def check_runs(
    conn: psycopg.Connection[Any],
    settings: Settings,
    run_ids: Sequence[uuid.UUID],
    *,
    fixed: LoadedPack | CompiledPack | None = None,
    other: LoadedPack | CompiledPack | None = None,
    jobs: int = 1,
    trust_root: TrustRoot | None = None,
    save: bool = True,
) -> BatchResult:
    """Fold and check `run_ids` (against `fixed`, or each run's policy in force), save verdicts.

    Runs without events and policy.published runs are skipped. With `jobs > 1` and enough runs,
    chunks go to a pool of worker processes (forked: they inherit the compiled packs, so CEL is
    compiled once per check, not once per process); the result is the same as with `jobs=1`.
    Approvals are judged by the registry history of each run's log under `trust_root` (None:
    who-checks are unknown); the history of the default log is read here, before forking.
    """
    job = _Job(settings, _compiled(fixed), _compiled(other), trust_root, save)
    origin = settings.origin(None)
    job.authorities[origin] = load_authority(conn, origin, trust_root)
    saved = gc.get_threshold()
    gc.set_threshold(*_GC_THRESHOLDS)
    try:
        return _check(conn, job, run_ids, jobs)
    finally:
        gc.set_threshold(*saved)


def _compiled(pack: LoadedPack | CompiledPack | None) -> CompiledPack | None:
    return _compile(pack) if isinstance(pack, LoadedPack) else pack


def _check(
    conn: psycopg.Connection[Any], job: _Job, run_ids: Sequence[uuid.UUID], jobs: int
) -> BatchResult:
    results: Iterator[list[tuple[RunCheck | None, int]]]
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
    entries: list[RunCheck] = []
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
    failed = any(e.failures for e in entries)
    return BatchResult(entries, events, failed, missing)
