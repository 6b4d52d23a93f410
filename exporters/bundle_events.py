"""Offline checks of a bundle's event population: leaves, columns, run chains, populations.

Why separate from `bundle_verify`: this is the hot loop (one pass over `events.parquet` and
`events.jsonl` in lockstep, flat memory apart from the 32-byte-per-leaf table and one entry per
run). Pure: standard library, pyarrow, orjson and the exporter's pure helpers only.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import re
from datetime import date as _date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

from exporters.population_gate import gate_evidence_runs
from exporters.populations import (
    POPULATIONS,
    Population,
    csv_bytes,
    in_population,
    population_rows,
    project_rows,
)
from exporters.rows import EVENT_COLUMNS, EVENT_SCHEMA, flatten, flatten_columns
from ledger import ids
from ledger.gcpause import gc_paused
from ledger.merkle import leaf_hash, leaf_hashes

if TYPE_CHECKING:
    from exporters.bundle_report import BundleReport

__all__ = ["check_events", "leaf_hashes", "streaming_parquet"]

_EVENTS = "ledger/events.parquet"
_JSONL = "ledger/events.jsonl"
_PLAIN_SCHEMA = EVENT_SCHEMA.remove_metadata()
_TS = r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{9}Z"
_CANONICAL_TS = re.compile(_TS, re.ASCII).fullmatch
_CANONICAL_RUN = re.compile(f"(?:{_TS}\n)*{_TS}", re.ASCII).fullmatch
_DAY = operator.itemgetter(slice(0, 10))


def streaming_parquet(path: Path) -> Any:
    """A Parquet reader whose memory stays flat: pyarrow's default pre-buffering kept every
    row group read so far (+150 MiB for 1M events), growing with the file."""
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)


def _populations(manifest: dict[str, Any], report: BundleReport) -> list[Population]:
    by_key = {(p.control, p.id): p for p in POPULATIONS}
    chosen = []
    for key in manifest.get("row_counts", {}).get("populations", {}):
        control, _, pid = key.partition("/")
        pop = by_key.get((control, pid))
        if pop is None:
            report.add("manifest.json", f"unknown population {key}: cannot re-derive it")
        else:
            chosen.append(pop)
    return chosen


def _in_period(stamps: list[str], since_s: str, until_s: str) -> bool:
    """True when every stamp is canonical (fixed width, so strings order like times), a real
    date and time (what `ids.parse_timestamp` would accept) and inside [since_s, until_s)."""
    if not stamps or not _CANONICAL_RUN("\n".join(stamps)):
        return False
    if not (since_s <= min(stamps) and max(stamps) < until_s):
        return False
    try:
        for day in set(map(_DAY, stamps)):
            _date.fromisoformat(day)
    except ValueError:
        return False
    return True


def gate_evidence_of(root: Path) -> frozenset[str]:
    """The run ids the bundle's gate.result events list as evidence: left out of the production
    populations when they are re-derived, as the writer left them out."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    found: set[str] = set()
    gate = pa.array(["gate.result"])
    for batch in streaming_parquet(root / _EVENTS).iter_batches(batch_size=50_000,
                                                               columns=["type", "body"]):
        chosen = batch.filter(pc.is_in(batch.column("type"), value_set=gate))
        for body in chosen.column("body").to_pylist():
            found.update(gate_evidence_runs(body))
    return frozenset(found)


class _Scan:
    """State carried across batches while the population streams past."""

    def __init__(  # noqa: PLR0917
        self,
        leaves: bytearray,
        end_size: int,
        period: tuple[int, int],
        tenant: str | None,
        pops: list[Population],
        report: BundleReport,
        gate_runs: frozenset[str] = frozenset(),
    ) -> None:
        self.leaves, self.end_size, self.tenant, self.pops = leaves, end_size, tenant, pops
        self.gate_runs = gate_runs  # the bundle's gate evidence: not production activity
        self.since, self.until = period
        self.report = report
        self.line = csv_bytes()
        self.hashers = [hashlib.sha256(self.line(p.columns)) for p in pops]
        self.counts = [0] * len(pops)
        self.heads: dict[str, tuple[int, str]] = {}
        self.last_seq = -1
        self.n = 0
        # the fast path compares canonical timestamps as strings (fixed width: same order)
        bounds = (ids.format_timestamp(self.since), ids.format_timestamp(self.until))
        self.bounds = bounds if all(_CANONICAL_TS(b) for b in bounds) else None

    def batch(self, batch: Any, lines: list[bytes]) -> None:
        """Check one Parquet record batch and its JSONL lines (fast path, else row by row)."""
        if not self._fast(batch, lines):
            self._slow(batch.to_pylist(), lines)

    def _fast(self, batch: Any, lines: list[bytes]) -> bool:
        """All checks on columns; False (nothing recorded) as soon as any row needs a report."""
        checked = self._fast_leaves(batch, lines)
        if checked is None:
            return False
        seqs, bodies, computed = checked
        flat = self._fast_columns(batch, seqs, bodies, computed)
        if flat is None:
            return False
        self._fast_chains(flat, seqs)
        found = population_rows(self.pops, flat, self.gate_runs)
        for i, (pop, idx) in enumerate(zip(self.pops, found, strict=True)):
            if idx:
                self.hashers[i].update(self.line.many(project_rows(pop, flat, idx)))
                self.counts[i] += len(idx)
        self.n += len(seqs)
        self.last_seq = seqs[-1]
        return True

    def _fast_leaves(
        self, batch: Any, lines: list[bytes]
    ) -> tuple[list[int], list[bytes], list[bytes]] | None:
        """(seqs, bodies, leaf hashes) when the schema, order, JSONL and leaves all agree."""
        if batch.schema.names != list(EVENT_COLUMNS) or self.bounds is None:
            return None
        if not batch.schema.remove_metadata().equals(_PLAIN_SCHEMA):
            return None
        seqs = batch.column("seq").to_pylist()
        k = len(seqs)
        if not k or None in seqs or seqs[0] <= self.last_seq or seqs[-1] >= self.end_size:
            return None
        if any(a >= b for a, b in itertools.pairwise(seqs)):
            return None
        bodies = [(b or "").encode("utf-8") for b in batch.column("body").to_pylist()]
        if [x.rstrip(b"\n") for x in lines] != bodies:
            return None
        computed = leaf_hashes(bodies)
        s0 = seqs[0]
        if seqs[-1] - s0 == k - 1:
            if self.leaves[32 * s0 : 32 * (s0 + k)] != b"".join(computed):
                return None
        elif [self.leaves[32 * s : 32 * s + 32] for s in seqs] != computed:
            return None
        return seqs, bodies, computed

    def _fast_columns(
        self, batch: Any, seqs: list[int], bodies: list[bytes], computed: list[bytes]
    ) -> dict[str, list[Any]] | None:
        """Every column re-derived from the body and equal to the stored one, in the period."""
        flat, bad = flatten_columns(seqs, bodies, [h.hex() for h in computed], strict=False)
        if bad:
            return None
        try:  # compared in Arrow (cheaper than to_pylist)
            derived = pa.Table.from_pydict(flat, schema=EVENT_SCHEMA)
        except (TypeError, ValueError, OverflowError):
            return None
        if not derived.equals(pa.Table.from_batches([batch])):
            return None
        assert self.bounds is not None  # checked by _fast_leaves
        since_s, until_s = self.bounds
        if not _in_period(flat["occurred_at"], since_s, until_s):
            return None
        if self.tenant is not None and any(t != self.tenant for t in flat["tenant"]):
            return None
        return flat

    def _fast_chains(self, flat: dict[str, list[Any]], seqs: list[int]) -> None:
        """Advance each run's chain; a row that ends a run or breaks it gets the full check."""
        n0, heads = self.n, self.heads
        for j, (run_id, run_seq, seq, prev, kind, leaf, body) in enumerate(
            zip(
                flat["run_id"],
                flat["run_seq"],
                seqs,
                flat["prev_run_hash"],
                flat["type"],
                flat["leaf_hash"],
                flat["body"],
                strict=True,
            )
        ):
            head = heads.get(run_id)
            if (
                kind == "run.ended"
                or (head is None and run_seq == 0 and prev is not None)
                or (head is not None and (run_seq != head[0] + 1 or prev != head[1]))
            ):  # something to look at (or report): the full check
                _chain(
                    heads, (run_id, run_seq, seq, prev, kind, leaf, body), n0 + j + 1, self.report
                )
            else:
                heads[run_id] = (run_seq, leaf)

    def _slow(self, rows: list[dict[str, Any]], lines: list[bytes]) -> None:
        """The row-by-row checks (used for a batch with any problem): exact reports."""
        report = self.report
        for row, got in zip(rows, lines, strict=False):
            self.n += 1
            n = self.n
            seq = row.get("seq")
            body = str(row.get("body") or "").encode("utf-8")
            if got.rstrip(b"\n") != body:
                report.add(_JSONL, "line differs from events.parquet body", row=n, seq=seq)
            if not isinstance(seq, int) or seq <= self.last_seq or seq >= self.end_size:
                report.add(
                    _EVENTS,
                    f"seq out of order or beyond end size {self.end_size}",
                    row=n,
                    seq=seq,
                )
                continue
            self.last_seq = seq
            leaf = leaf_hash(body)
            if self.leaves[32 * seq : 32 * seq + 32] != leaf:
                report.add(
                    _EVENTS,
                    "leaf recomputed from body differs from the signed tree's leaf at this seq",
                    row=n,
                    seq=seq,
                )
                continue
            try:
                flat = flatten(seq, body, leaf.hex())
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                report.add(_EVENTS, "body is not a valid event", row=n, seq=seq)
                continue
            if flat != row:
                bad = [c for c in EVENT_COLUMNS if flat.get(c) != row.get(c)]
                report.add(
                    _EVENTS, f"column(s) {', '.join(bad)} differ from the body", row=n, seq=seq
                )
            if not self.since <= ids.parse_timestamp(flat["occurred_at"]) < self.until:
                report.add(_EVENTS, "occurred_at outside the exported period", row=n, seq=seq)
            if self.tenant is not None and flat["tenant"] != self.tenant:
                report.add(_EVENTS, f"tenant {flat['tenant']} is not {self.tenant}", row=n, seq=seq)
            chain = (
                flat["run_id"],
                flat["run_seq"],
                seq,
                flat["prev_run_hash"],
                flat["type"],
                flat["leaf_hash"],
                flat["body"],
            )
            _chain(self.heads, chain, n, report)
            for i, pop in enumerate(self.pops):
                if in_population(pop, flat, self.gate_runs):
                    self.hashers[i].update(self.line(pop.project(flat)))
                    self.counts[i] += 1


def check_events(
    root: Path, manifest: dict[str, Any], leaves: bytearray, end_size: int, report: BundleReport
) -> None:
    """Stream the population and record every problem in `report`."""
    params = manifest.get("parameters", {})
    try:
        since = ids.parse_timestamp(str(params["since"]))
        until = ids.parse_timestamp(str(params["until"]))
    except (KeyError, ValueError):
        report.add("manifest.json", "parameters.since/until missing or not RFC 3339")
        return
    pops = _populations(manifest, report)
    try:
        gate_runs = gate_evidence_of(root)
    except (OSError, ValueError) as exc:
        report.add(_EVENTS, f"unreadable: {exc}")
        return
    scan = _Scan(leaves, end_size, (since, until), params.get("tenant"), pops, report,
                 gate_runs)
    try:
        jsonl = (root / _JSONL).open("rb")
    except OSError as exc:
        report.add(_JSONL, f"unreadable: {exc.strerror}")
        return
    with jsonl, gc_paused():
        try:
            for batch in streaming_parquet(root / _EVENTS).iter_batches(batch_size=20_000):
                scan.batch(batch, [jsonl.readline() for _ in range(batch.num_rows)])
        except (OSError, ValueError) as exc:
            report.add(_EVENTS, f"unreadable: {exc}")
            return
        if jsonl.readline():
            report.add(_JSONL, "more lines than events.parquet rows")
    n = report.events = scan.n
    want = manifest.get("row_counts", {}).get("events")
    if want != n:
        report.add(_EVENTS, f"{n} rows but manifest.json says {want}")
    _match_populations(root, manifest, pops, scan.counts, scan.hashers, report)
    if report.valid:
        report.checks["events"] = f"{n} events: leaves, columns, run chains verified"


def _chain(
    heads: dict[str, tuple[int, str]],
    event: tuple[str, int, int, str | None, str, str, str],
    n: int,
    report: BundleReport,
) -> None:
    run_id, run_seq, seq, prev, kind, leaf, body = event
    head = heads.get(run_id)
    if head is not None:
        if run_seq != head[0] + 1:
            report.add(
                _EVENTS,
                f"run {run_id}: run_seq {head[0] + 1} is missing "
                f"(found {run_seq}): an event of this run was removed",
                row=n,
                seq=seq,
            )
        elif prev != head[1]:
            report.add(
                _EVENTS,
                f"run {run_id}: prev_run_hash does not match the previous event's leaf",
                row=n,
                seq=seq,
            )
    elif run_seq == 0 and prev is not None:
        report.add(_EVENTS, f"run {run_id}: first event has a prev_run_hash", row=n, seq=seq)
    if kind == "run.ended":
        count = orjson.loads(body)["data"].get("event_count")
        if count != run_seq + 1:
            report.add(
                _EVENTS,
                f"run {run_id}: run.ended commits to {count} events but is event {run_seq + 1}",
                row=n,
                seq=seq,
            )
    heads[run_id] = (run_seq, leaf)


def _match_populations(  # noqa: PLR0917
    root: Path,
    manifest: dict[str, Any],
    pops: list[Population],
    counts: list[int],
    hashers: list[Any],
    report: BundleReport,
) -> None:
    files = {f["path"]: f for f in manifest.get("files", [])}
    listed = manifest.get("row_counts", {}).get("populations", {})
    for pop, count, hasher in zip(pops, counts, hashers, strict=True):
        report.populations[f"{pop.control}/{pop.id}"] = count
        try:
            meta = orjson.loads((root / pop.meta_path).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            report.add(pop.meta_path, f"unreadable: {exc}")
            continue
        digest = hasher.hexdigest()
        if meta.get("row_count") != count or listed.get(f"{pop.control}/{pop.id}") != count:
            report.add(
                pop.meta_path,
                f"row_count {meta.get('row_count')} but {count} rows re-derived from the events",
            )
        if meta.get("sql") != pop.sql:
            report.add(pop.meta_path, "SQL text differs from the definition this verifier knows")
        entry = files.get(pop.path, {})
        if entry.get("sha256") != digest or meta.get("csv_sha256") != digest:
            report.add(pop.path, "CSV differs from the population re-derived from the events")
        if entry.get("rows") != count:
            report.add(pop.path, f"manifest rows {entry.get('rows')} but {count} re-derived")
