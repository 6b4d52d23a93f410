"""`ledger export`: write a SOC 2 evidence bundle an auditor can verify with no database.

Why it is shaped like this (DESIGN §9, undo-soc2-tabletop §4(b)): the period [since, until) picks
events by `occurred_at`, but proofs need tree positions, so the bundle carries the leaf hashes of
the whole prefix [0, end_size) and the verifier rebuilds both signed roots itself. Everything is
streamed in `seq` batches into pyarrow/CSV/JSONL writers (memory stays flat as the period grows),
the end checkpoint is the newest one stored (nothing new is signed for the log), the manifest is
covered by an in-toto Statement in a DSSE envelope signed with the log key, and the export is
itself recorded in the ledger as `export.created` ("audit the auditor").
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

from exporters import bundle_extras as extras
from exporters.bundle_scan import PopWriters, scope_batches
from exporters.bundle_seal import HashingSink, file_entry, seal
from exporters.bundle_tree import TreeWriter
from exporters.dsse import dsse_keyid
from exporters.populations import select
from exporters.rows import EVENT_SCHEMA
from ledger import ids
from ledger.config import Settings
from ledger.errors import InputError
from ledger.events import make_event
from ledger.gcpause import gc_paused
from ledger.keys import fingerprint
from ledger.store.door import append
from ledger.store.read import latest_checkpoint
from ledger.store.sequencer import log_signer

__all__ = [
    "BATCH",
    "ExportParams",
    "ExportResult",
    "export_bundle",
    "parse_ts",
]

BATCH = 20_000
FORMAT = "agent-ledger-evidence-bundle"
Progress = Callable[[int, int], None]

_COUNT_SCOPE = (
    "SELECT count(*), min(seq), max(seq) FROM ledger_events WHERE origin = %s AND seq < %s"
    " AND occurred_at >= %s AND occurred_at < %s"
)
_START_CHECKPOINT = (
    "SELECT tree_size, note FROM ledger_checkpoints WHERE origin = %s AND tree_size <= %s"
    " ORDER BY tree_size DESC LIMIT 1"
)


@dataclass(frozen=True)
class ExportParams:
    """What to export: the period (RFC 3339, half-open), tenant, controls, output directory."""

    since: str
    until: str
    out: Path
    tenant: str | None = None
    controls: tuple[str, ...] = ()
    exported_by: str = field(default_factory=getpass.getuser)
    record: bool = True

    def as_json(self, origin: str) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "tenant": origin.rsplit("/", 1)[-1],
            "origin": origin,
            "controls": list(self.controls) or "all",
        }


@dataclass
class ExportResult:
    """Outcome: where, how many events, the manifest digest and the export event id."""

    out: Path
    events: int
    start_size: int
    end_size: int
    manifest_sha256: str
    export_event_id: str | None = None
    populations: dict[str, int] = field(default_factory=dict)


def parse_ts(text: str, what: str) -> int:
    try:
        return ids.parse_timestamp(text)
    except (ValueError, OverflowError):
        raise InputError(
            f"--{what} {text!r} is not an RFC 3339 timestamp with a timezone"
        ) from None


def _pg_ts(ns: int) -> str:
    return ids.format_timestamp(ns)


def _write_batch(
    writer: pq.ParquetWriter, table: pa.Table, jsonl: HashingSink, bodies: list[bytes]
) -> None:
    writer.write_table(table)
    jsonl.write(b"\n".join(bodies) + b"\n")


def export_bundle(
    conn: psycopg.Connection,
    settings: Settings,
    params: ExportParams,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the bundle into `params.out` (created; must not exist or be empty)."""
    since_ns, until_ns = parse_ts(params.since, "since"), parse_ts(params.until, "until")
    if until_ns <= since_ns:
        raise InputError("--until must be later than --since (the period is [since, until))")
    try:
        pops = select(params.controls)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    out = params.out
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; choose a new directory")
    origin = settings.origin(params.tenant)
    latest = latest_checkpoint(conn, origin)
    if latest is None:
        raise InputError(f"no signed checkpoint for {origin}: the log is empty")
    end_size = latest.tree_size
    signer = log_signer(settings)
    # Widen the indexed window by 1 µs each side (PostgreSQL rounds to µs); the body decides.
    lo_ns, hi_ns = since_ns - 1000, until_ns + 1000
    total, first_seq, last_seq = conn.execute(
        _COUNT_SCOPE, (origin, end_size, _pg_ts(lo_ns), _pg_ts(hi_ns))
    ).fetchone() or (0, None, None)
    start_row = conn.execute(
        _START_CHECKPOINT, (origin, end_size if first_seq is None else int(first_seq))
    ).fetchone()
    start_size, start_note = (int(start_row[0]), str(start_row[1])) if start_row else (0, None)

    out.mkdir(parents=True, exist_ok=True)
    for sub in (
        "ledger",
        "checkpoints",
        "keys",
        "attestation",
        "custody",
        "config",
        "controls",
        "exceptions",
        "replays",
    ):
        (out / sub).mkdir(exist_ok=True)
    files: list[dict[str, Any]] = []
    export_id = str(ids.new_id())
    created_at = ids.format_timestamp(ids.now_ns())

    # 1. events: Parquet + canonical JSONL + populations + aggregates, one pass.
    pw = PopWriters(out, pops)
    agg = extras.Aggregates()
    events_sink = HashingSink(out / "ledger/events.parquet")
    jsonl_sink = HashingSink(out / "ledger/events.jsonl")
    writer = pq.ParquetWriter(events_sink, EVENT_SCHEMA, compression="zstd")
    done = 0
    span = (0, 0) if first_seq is None else (int(first_seq), int(last_seq) + 1)
    tree = TreeWriter(out, start_size, end_size)  # leaves of `span` come with the events
    tree.read(conn, origin, 0, span[0])
    # Parquet encoding/compression and file writes release the GIL: one batch is written on a
    # background thread while the next is flattened (at most one in flight: memory stays flat).
    pending: Future[None] | None = None
    with (
        jsonl_sink as jsonl,
        ThreadPoolExecutor(1, thread_name_prefix="export-write") as background,
        gc_paused(),  # no reference cycles are made here; GC scans of batches cost ~10%
    ):
        for batch in scope_batches(
            conn,
            origin,
            span=span,
            index_bounds=(_pg_ts(lo_ns), _pg_ts(hi_ns)),
            period=(ids.format_timestamp(since_ns), ids.format_timestamp(until_ns)),
            step=BATCH,
        ):
            tree.add(batch.window, batch.window_seqs, batch.leaves)
            if not len(batch):
                continue
            pw.add_batch(batch)
            agg.add_batch(batch.cols, batch.row)
            table = pa.Table.from_pydict(batch.cols, schema=EVENT_SCHEMA)
            if pending is not None:
                pending.result()
            pending = background.submit(_write_batch, writer, table, jsonl, batch.bodies)
            done += len(batch)
            if progress:
                progress(done, int(total))
        if pending is not None:
            pending.result()
    writer.close()
    events_sink.close()
    pw.close()
    parquet_type = "application/vnd.apache.parquet"
    ledger_events = "ledger/events.parquet"
    files.append(file_entry(out, ledger_events, parquet_type, done, known=events_sink.digest()))
    files.append(
        file_entry(out, "ledger/events.jsonl", "application/jsonl", done, known=jsonl.digest())
    )

    # 2. leaves [0, end_size), both checkpoints and the consistency proof.
    verifiers = [signer.verifier, *extras.witness_verifiers(conn, origin, end_size)]
    with gc_paused():
        tree.read(conn, origin, span[1], end_size)
        tree_files, start_root = tree.finish(
            origin=origin,
            start_note=start_note,
            end=(latest.root_hash, latest.note),
            verifiers=verifiers,
        )
    files.extend(tree_files)

    # 4. populations with their SQL, parameters and row counts.
    param_json = params.as_json(origin)
    pop_summary: dict[str, int] = {}
    for i, pop in enumerate(pops):
        entry = file_entry(out, pop.path, "text/csv", pw.counts[i])
        files.append(entry)
        meta = {
            "id": pop.id,
            "control": pop.control,
            "criterion": pop.criterion,
            "title": pop.title,
            "source": "ledger/events.parquet (view `events`)",
            "sql": pop.sql,
            "parameters": param_json,
            "columns": list(pop.columns),
            "row_count": pw.counts[i],
            "csv": pop.path,
            "csv_sha256": entry["sha256"],
            "seq_range": pw.seqs[i] or None,
            "test_procedure": pop.procedure,
        }
        (out / pop.meta_path).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        files.append(file_entry(out, pop.meta_path, "application/json"))
        pop_summary[f"{pop.control}/{pop.id}"] = pw.counts[i]

    # 5. config, replays, gaps, custody, trust, matrix, docs.
    context = extras.Context(
        out=out,
        conn=conn,
        origin=origin,
        end_size=end_size,
        start_size=start_size,
        params=param_json,
        export_id=export_id,
        created_at=created_at,
        exported_by=params.exported_by,
        pops=pops,
        counts=pw.counts,
        agg=agg,
        events=done,
        signer_vkey=signer.vkey,
        signer_fingerprint=fingerprint(signer),
        dsse_keyid=dsse_keyid(signer.public_key),
        signer_public_key=signer.public_key,
        witness_vkeys=[v.vkey for v in verifiers[1:]],
    )
    files.extend(extras.write_all(context))

    # 6. manifest, statement, DSSE envelope, SHA256SUMS.
    manifest = {
        "format": FORMAT,
        "format_version": 1,
        "export_id": export_id,
        "created_at": created_at,
        "exported_by": params.exported_by,
        "parameters": param_json,
        "schema_versions": {
            "event": 1,
            "events.parquet": "events/v1",
            "leaves.parquet": "leaves/v1",
            "population": 1,
            "manifest": 1,
        },
        "checkpoints": {
            "start": {
                "size": start_size,
                "root": start_root.hex(),
                "note": "checkpoints/start.note" if start_note else None,
            },
            "end": {
                "size": end_size,
                "root": latest.root_hash.hex(),
                "note": "checkpoints/end.note",
            },
            "consistency": "checkpoints/consistency.json",
        },
        "row_counts": {"events": done, "leaves": end_size, "populations": pop_summary},
        "signing": {"dsse_keyid": context.dsse_keyid, "key": "log", "vkey": signer.vkey},
        "files": files,
    }
    predicate = {
        "export_id": export_id,
        "origin": origin,
        "period": param_json,
        "end_checkpoint": {"size": end_size, "root": latest.root_hash.hex()},
    }
    manifest_sha256 = seal(out, manifest, predicate, signer)

    result = ExportResult(out, done, start_size, end_size, manifest_sha256, populations=pop_summary)
    if params.record:
        result.export_event_id = _record(
            conn, settings, origin=origin, params=params, param_json=param_json, result=result
        )
    return result


def _record(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    origin: str,
    params: ExportParams,
    param_json: dict[str, Any],
    result: ExportResult,
) -> str:
    """Append `export.created` (who, when, parameters, manifest digest) to the tenant's log."""
    event = make_event(
        "export.created",
        run_id=uuid.uuid4(),
        run_seq=0,
        tenant=origin.rsplit("/", 1)[-1],
        principal={"initiating_user": params.exported_by},
        data={
            "manifest_digest": result.manifest_sha256,
            "exported_by": params.exported_by,
            "parameters": {
                **param_json,
                "out": os.fspath(params.out.resolve()),
                "events": result.events,
                "end_size": result.end_size,
            },
        },
    )
    append(conn, [event], settings, wait=False)
    return str(event.event_id)
