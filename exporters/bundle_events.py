"""Offline checks of a bundle's event population: leaves, columns, run chains, populations.

Why separate from `bundle_verify`: this is the hot loop (one pass over `events.parquet` and
`events.jsonl` in lockstep, flat memory apart from the 32-byte-per-leaf table and one entry per
run). Pure: standard library, pyarrow, orjson and the exporter's pure helpers only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

from exporters.populations import POPULATIONS, Population, csv_bytes
from exporters.rows import EVENT_COLUMNS, flatten
from ledger import ids

if TYPE_CHECKING:
    from exporters.bundle_verify import BundleReport

__all__ = ["check_events", "leaf_hashes"]

_EVENTS = "ledger/events.parquet"
_JSONL = "ledger/events.jsonl"


def leaf_hashes(bodies: list[bytes]) -> list[bytes]:
    """RFC 6962 leaf hashes of canonical bodies (the hashing hot path, benchmarked)."""
    sha = hashlib.sha256
    return [sha(b"\x00" + b).digest() for b in bodies]


def _rows(root: Path) -> Iterator[list[dict[str, Any]]]:
    for batch in pq.ParquetFile(root / _EVENTS).iter_batches(batch_size=20_000):
        yield batch.to_pylist()


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
    tenant = params.get("tenant")
    pops = _populations(manifest, report)
    line = csv_bytes()
    hashers = [hashlib.sha256(line(p.columns)) for p in pops]
    counts = [0] * len(pops)
    heads: dict[str, tuple[int, str]] = {}
    last_seq = -1
    n = 0
    sha = hashlib.sha256
    try:
        jsonl = (root / _JSONL).open("rb")
    except OSError as exc:
        report.add(_JSONL, f"unreadable: {exc.strerror}")
        return
    with jsonl:
        try:
            for rows in _rows(root):
                for row in rows:
                    n += 1
                    seq = row.get("seq")
                    body = str(row.get("body") or "").encode("utf-8")
                    if jsonl.readline().rstrip(b"\n") != body:
                        report.add(_JSONL, "line differs from events.parquet body", row=n, seq=seq)
                    if not isinstance(seq, int) or seq <= last_seq or seq >= end_size:
                        report.add(
                            _EVENTS,
                            f"seq out of order or beyond end size {end_size}",
                            row=n,
                            seq=seq,
                        )
                        continue
                    last_seq = seq
                    leaf = sha(b"\x00" + body).digest()
                    if leaves[32 * seq : 32 * seq + 32] != leaf:
                        report.add(
                            _EVENTS,
                            "leaf recomputed from body differs from the signed "
                            "tree's leaf at this seq",
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
                            _EVENTS,
                            f"column(s) {', '.join(bad)} differ from the body",
                            row=n,
                            seq=seq,
                        )
                    if not since <= ids.parse_timestamp(flat["occurred_at"]) < until:
                        report.add(
                            _EVENTS, "occurred_at outside the exported period", row=n, seq=seq
                        )
                    if tenant is not None and flat["tenant"] != tenant:
                        report.add(
                            _EVENTS, f"tenant {flat['tenant']} is not {tenant}", row=n, seq=seq
                        )
                    _chain(flat, heads, n, report)
                    for i, pop in enumerate(pops):
                        if pop.predicate(flat):
                            hashers[i].update(line(pop.project(flat)))
                            counts[i] += 1
        except (OSError, ValueError) as exc:
            report.add(_EVENTS, f"unreadable: {exc}")
            return
        if jsonl.readline():
            report.add(_JSONL, "more lines than events.parquet rows")
    report.events = n
    want = manifest.get("row_counts", {}).get("events")
    if want != n:
        report.add(_EVENTS, f"{n} rows but manifest.json says {want}")
    _match_populations(root, manifest, pops, counts, hashers, report)
    if report.valid:
        report.checks["events"] = f"{n} events: leaves, columns, run chains verified"


def _chain(
    flat: dict[str, Any], heads: dict[str, tuple[int, str]], n: int, report: BundleReport
) -> None:
    run_id, run_seq, seq = flat["run_id"], flat["run_seq"], flat["seq"]
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
        elif flat["prev_run_hash"] != head[1]:
            report.add(
                _EVENTS,
                f"run {run_id}: prev_run_hash does not match the previous event's leaf",
                row=n,
                seq=seq,
            )
    elif run_seq == 0 and flat["prev_run_hash"] is not None:
        report.add(_EVENTS, f"run {run_id}: first event has a prev_run_hash", row=n, seq=seq)
    if flat["type"] == "run.ended":
        count = orjson.loads(flat["body"])["data"].get("event_count")
        if count != run_seq + 1:
            report.add(
                _EVENTS,
                f"run {run_id}: run.ended commits to {count} events but is event {run_seq + 1}",
                row=n,
                seq=seq,
            )
    heads[run_id] = (run_seq, flat["leaf_hash"])


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
