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

import dataclasses
import getpass
import json
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

from exporters import bundle_extras as extras
from exporters.bundle_exercise import exercise_files
from exporters.bundle_scan import PopWriters, gate_evidence_in, scope_batches
from exporters.bundle_seal import HashingSink, file_entry, seal
from exporters.bundle_tokens import write_identity_tokens
from exporters.bundle_tree import TreeWriter
from exporters.bundle_witness import write_cosigned
from exporters.dsse import dsse_keyid
from exporters.populations import Population, select
from exporters.rows import EVENT_SCHEMA
from ledger import ids
from ledger.config import Settings
from ledger.db.connect import connect, reads_replica
from ledger.errors import InputError
from ledger.gcpause import gc_paused
from ledger.keys import fingerprint
from ledger.store.door import append, single_event
from ledger.store.export import scope_span
from ledger.store.read import CheckpointRow, checkpoint_at_most, latest_checkpoint
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
_PARQUET = "application/vnd.apache.parquet"
_SUBDIRS = (
    "ledger",
    "checkpoints",
    "keys",
    "attestation",
    "custody",
    "config",
    "controls",
    "exceptions",
    "replays",
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
    #: disclose the recorded identity tokens (identity/tokens.jsonl) so the offline verifier
    #: can prove who started each run; False withholds them (`--no-identity-tokens`)
    identity_tokens: bool = True
    #: only the events of this seq range [lo, hi) (`ledger archive`: exactly the range it
    #: detaches, every event of which occurred in the period)
    seq_range: tuple[int, int] | None = None

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


@dataclass(frozen=True)
class _Scope:
    """What an export covers, settled before anything is written."""

    origin: str
    pops: tuple[Population, ...]
    period: tuple[int, int]
    """[since, until) in ns."""
    end: CheckpointRow
    start_size: int
    start_note: str | None
    span: tuple[int, int]
    """The seq range [first, last + 1) of in-scope events ((0, 0) when none)."""
    total: int

    @property
    def index_bounds(self) -> tuple[str, str]:
        """The period widened by 1 µs each side (PostgreSQL rounds to µs); the body decides."""
        return _pg_ts(self.period[0] - 1000), _pg_ts(self.period[1] + 1000)


@dataclass
class _Events:
    """What the events pass wrote and counted."""

    files: list[dict[str, Any]]
    pops: PopWriters
    agg: extras.Aggregates
    tree: TreeWriter
    count: int


def _scope(conn: psycopg.Connection, settings: Settings, params: ExportParams) -> _Scope:
    """Validate the request and find the checkpoints and seq span it covers."""
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
    scope = _Scope(origin, pops, (since_ns, until_ns), latest, 0, None, (0, 0), 0)
    found = scope_span(conn, origin, latest.tree_size, scope.index_bounds)
    first = latest.tree_size if found.first_seq is None else found.first_seq
    span = (0, 0) if found.first_seq is None else (found.first_seq, int(found.last_seq or 0) + 1)
    if params.seq_range is not None:  # an archive's range (ledger archive checks the period)
        first, span = params.seq_range[0], params.seq_range
        found = dataclasses.replace(found, count=span[1] - span[0])
    start = checkpoint_at_most(conn, origin, first)
    return dataclasses.replace(
        scope,
        start_size=start.tree_size if start else 0,
        start_note=start.note if start else None,
        span=span,
        total=found.count,
    )


def _make_dirs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for sub in _SUBDIRS:
        (out / sub).mkdir(exist_ok=True)


def _write_events(
    conn: psycopg.Connection, out: Path, scope: _Scope, progress: Progress | None
) -> _Events:
    """Stage 1: Parquet + canonical JSONL + populations + aggregates, one pass over the scope.

    Parquet encoding/compression and file writes release the GIL: one batch is written on a
    background thread while the next is flattened (at most one in flight: memory stays flat).
    """
    gate_runs = gate_evidence_in(conn, scope.origin, scope.span, scope.period)
    pw = PopWriters(out, scope.pops, gate_runs)
    agg = extras.Aggregates()
    events_sink = HashingSink(out / "ledger/events.parquet")
    jsonl_sink = HashingSink(out / "ledger/events.jsonl")
    writer = pq.ParquetWriter(events_sink, EVENT_SCHEMA, compression="zstd")
    tree = TreeWriter(out, scope.start_size, scope.end.tree_size)
    tree.read(conn, scope.origin, 0, scope.span[0])  # leaves of `span` come with the events
    done = 0
    pending: Future[None] | None = None
    with (
        jsonl_sink as jsonl,
        ThreadPoolExecutor(1, thread_name_prefix="export-write") as background,
        gc_paused(),  # no reference cycles are made here; GC scans of batches cost ~10%
    ):
        for batch in scope_batches(
            conn,
            scope.origin,
            span=scope.span,
            index_bounds=scope.index_bounds,
            period=(ids.format_timestamp(scope.period[0]), ids.format_timestamp(scope.period[1])),
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
                progress(done, scope.total)
        if pending is not None:
            pending.result()
    writer.close()
    events_sink.close()
    pw.close()
    files = [
        file_entry(out, "ledger/events.parquet", _PARQUET, done, known=events_sink.digest()),
        file_entry(out, "ledger/events.jsonl", "application/jsonl", done, known=jsonl.digest()),
    ]
    return _Events(files, pw, agg, tree, done)


def _write_populations(
    out: Path, scope: _Scope, pw: PopWriters, param_json: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Stage 4: each population's CSV entry and its metadata (SQL, parameters, row count)."""
    files: list[dict[str, Any]] = []
    summary: dict[str, int] = {}
    for i, pop in enumerate(scope.pops):
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
        summary[f"{pop.control}/{pop.id}"] = pw.counts[i]
    return files, summary


def _manifest(
    context: extras.Context,
    scope: _Scope,
    start_root: bytes,
    pop_summary: dict[str, int],
    files: list[dict[str, Any]],
) -> dict[str, Any]:
    """Stage 6's manifest: format, parameters, both checkpoints, row counts, every file."""
    end = scope.end
    return {
        "format": FORMAT,
        "format_version": 1,
        "export_id": context.export_id,
        "created_at": context.created_at,
        "exported_by": context.exported_by,
        "parameters": context.params,
        "schema_versions": {
            "event": 1,
            "events.parquet": "events/v1",
            "leaves.parquet": "leaves/v1",
            "population": 1,
            "manifest": 1,
        },
        "checkpoints": {
            "start": {
                "size": scope.start_size,
                "root": start_root.hex(),
                "note": "checkpoints/start.note" if scope.start_note else None,
            },
            "end": {
                "size": end.tree_size,
                "root": end.root_hash.hex(),
                "note": "checkpoints/end.note",
            },
            "consistency": "checkpoints/consistency.json",
        },
        "row_counts": {
            "events": context.events,
            "leaves": end.tree_size,
            "populations": pop_summary,
        },
        "signing": {"dsse_keyid": context.dsse_keyid, "key": "log", "vkey": context.signer_vkey},
        "files": files,
    }


def export_bundle(
    conn: psycopg.Connection,
    settings: Settings,
    params: ExportParams,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the bundle into `params.out` (created; must not exist or be empty).

    A pipeline of stages: scope, events (with populations and the leaves in scope), the rest
    of the leaves with checkpoints and consistency proof, population metadata, the small files,
    the sealed manifest, and finally the custody event through the write door.
    """
    scope = _scope(conn, settings, params)
    signer = log_signer(settings, conn)
    out, origin, end = params.out, scope.origin, scope.end
    _make_dirs(out)
    export_id, created_at = str(ids.new_id()), ids.format_timestamp(ids.now_ns())
    events = _write_events(conn, out, scope, progress)
    verifiers = [signer.verifier, *extras.witness_verifiers(conn, origin, end.tree_size)]
    with gc_paused():  # stage 2: leaves [0, end_size), both checkpoints, the consistency proof
        events.tree.read(conn, origin, scope.span[1], end.tree_size)
        tree_files, start_root = events.tree.finish(
            origin=origin,
            start_note=scope.start_note,
            end=(end.root_hash, end.note),
            verifiers=verifiers,
        )
    param_json = params.as_json(origin)
    pop_files, pop_summary = _write_populations(out, scope, events.pops, param_json)
    tree_files += (cosigned := write_cosigned(conn, out, origin, end.tree_size))[0]
    context = extras.Context(
        out=out,
        conn=conn,
        origin=origin,
        end_size=end.tree_size,
        start_size=scope.start_size,
        params=param_json,
        export_id=export_id,
        created_at=created_at,
        exported_by=params.exported_by,
        pops=scope.pops,
        counts=events.pops.counts,
        agg=events.agg,
        events=events.count,
        signer_vkey=signer.vkey,
        signer_fingerprint=fingerprint(signer),
        dsse_keyid=dsse_keyid(signer.public_key),
        signer_public_key=signer.public_key,
        witness_vkeys=[v.vkey for v in verifiers[1:]],
        cosigned=cosigned[1],
    )
    tokens = write_identity_tokens(conn, settings, origin, out, params.identity_tokens)
    files = [*events.files, *tree_files, *pop_files, *tokens.files, *extras.write_all(context)]
    files += exercise_files(conn, settings, out, origin)  # an exercise tenant: its AAR/IP
    predicate = {
        "export_id": context.export_id,
        "origin": origin,
        "period": param_json,
        "end_checkpoint": {"size": end.tree_size, "root": end.root_hash.hex()},
    }
    manifest = _manifest(context, scope, start_root, pop_summary, files)
    manifest["identity_tokens"] = tokens.section
    manifest["checkpoints"]["end"]["cosigned"] = cosigned[1]
    result = ExportResult(
        out,
        events.count,
        scope.start_size,
        end.tree_size,
        seal(out, manifest, predicate, signer),
        populations=pop_summary,
    )
    if params.record:
        result.export_event_id = _record(
            conn, settings, origin=origin, params=params, param_json=param_json, result=result,
            end_root=end.root_hash,
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
    end_root: bytes,
) -> str:
    """Append `export.created` (who, when, parameters, manifest digest, the checkpoint exported)
    to the tenant's log. Reading from a replica (`LEDGER_READ_DSN`), `conn` is read-only: the
    event goes to the primary on a connection of its own, and names the end checkpoint (size
    and root) the bundle was built from, which a lagging replica may hold behind the primary."""
    event = single_event(
        "export.created",
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
                "end_root": end_root.hex(),
            },
        },
    )
    if reads_replica(settings):
        with connect(settings) as primary:
            append(primary, [event], settings, wait=False)
    else:
        append(conn, [event], settings, wait=False)
    return str(event.event_id)
