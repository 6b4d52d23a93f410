"""The smaller bundle files: config in force, undo plans, known gaps, custody, trust, matrix, docs.

Why a separate module: `bundle.py` owns the streaming and cryptography; this module owns the
navigation and context an auditor reads (what was in force, what is missing and why, who made
the bundle). Everything here is small (bounded by distinct versions or rare event types), so it
is aggregated in memory while the events stream past once.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from exporters import bundle_docs
from exporters.bundle_agg import Aggregates
from exporters.bundle_authority import REGISTRIES
from exporters.bundle_seal import file_entry
from exporters.populations import Population
from ledger.canonical import content_hash
from ledger.keyring import KEY_EVENT_TYPES
from ledger.note import NoteError, Verifier
from ledger.store.read import events_of_types

__all__ = ["Aggregates", "Context", "witness_verifiers", "write_all"]


@dataclass
class Context:
    """Everything the small files need."""

    out: Path
    conn: psycopg.Connection
    origin: str
    end_size: int
    start_size: int
    params: dict[str, Any]
    export_id: str
    created_at: str
    exported_by: str
    pops: tuple[Population, ...]
    counts: list[int]
    agg: Aggregates
    events: int
    signer_vkey: str
    signer_fingerprint: str
    dsse_keyid: str
    signer_public_key: bytes
    witness_vkeys: list[str]
    #: path of the witness-cosigned end checkpoint, None when no witness cosigned it
    cosigned: str | None = None


def _key_events(conn: psycopg.Connection, origin: str, end: int) -> list[dict[str, Any]]:
    found = []
    for seq, body in events_of_types(conn, origin, KEY_EVENT_TYPES, before=end):
        value = orjson.loads(body)
        found.append(
            {
                "seq": int(seq),
                "type": value["type"],
                "occurred_at": value["occurred_at"],
                **value["data"],
            }
        )
    return found


def witness_verifiers(conn: psycopg.Connection, origin: str, end: int) -> list[Verifier]:
    """Witness keys announced in the log (kind "witness") up to the end checkpoint."""
    found: list[Verifier] = []
    for item in _key_events(conn, origin, end):
        if item.get("kind") == "witness" and item["type"] == "key.announced":
            try:
                found.append(Verifier.from_vkey(str(item["vkey"])))
            except NoteError:
                continue
    return found


def _jsonl(path: Path, items: list[dict[str, Any]]) -> None:
    with path.open("wb") as fh:
        for item in items:
            fh.write(orjson.dumps(item, option=orjson.OPT_SORT_KEYS) + b"\n")


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _replay_modules() -> dict[str, bool]:
    status = {}
    for name in ("replay.check", "replay.undo"):
        try:
            status[name] = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            status[name] = False
    return status


def _known_gaps(ctx: Context, replay: dict[str, bool]) -> list[dict[str, Any]]:
    agg = ctx.agg
    gaps: list[dict[str, Any]] = [
        {
            "kind": "ledger_gap",
            "seq": g["seq"],
            "occurred_at": g["occurred_at"],
            "details": g["data"],
        }
        for g in agg.gaps
    ]
    gaps += [
        {
            "kind": "redaction",
            "seq": r["seq"],
            "occurred_at": r["occurred_at"],
            "details": r["data"],
        }
        for r in agg.redactions
    ]
    for name, present in replay.items():
        what = "post-facto policy verdicts" if name == "replay.check" else "generated undo plans"
        gaps.append(
            {
                "kind": "not_available",
                "component": name,
                "details": (
                    f"{what}: module {name} is present but has no bundle hook in this version; "
                    "the ledger's own records are included instead"
                    if present
                    else f"{what}: not available in this version ({name} is not installed); "
                    "run-time guardrail verdicts and recorded undo.* events are included instead"
                ),
            }
        )
    if agg.runs_started != agg.runs_ended:
        gaps.append(
            {
                "kind": "period_boundary",
                "details": (
                    f"{agg.runs_started} runs started and {agg.runs_ended} ended inside the "
                    "period: runs crossing a period boundary appear only with their "
                    "in-period events"
                ),
            }
        )
    if not ctx.witness_vkeys and ctx.cosigned is None:
        gaps.append(
            {
                "kind": "no_witness",
                "details": "no witness keys are announced in this "
                "log; checkpoints carry the log signature only",
            }
        )
    gaps.append(
        {
            "kind": "no_timestamp_token",
            "details": "no RFC 3161 timestamp token is "
            "included; time of export rests on the signed export.created ledger event",
        }
    )
    gaps.append(
        {
            "kind": "unhashed_column",
            "details": "recorded_at (database commit time) is "
            "not part of the hashed event and is therefore not exported, except for the "
            "run.started events whose identity tokens are disclosed (identity/tokens.jsonl), "
            "where it is attested by the bundle's signature, not by the tree",
        }
    )
    return gaps


def _config_files(ctx: Context) -> list[dict[str, Any]]:
    """config/: the versions in force and the policies published before the end size."""
    out, entries = ctx.out, []
    versions = sorted((k, v, *s) for (k, v), s in ctx.agg.versions.items())
    _csv(
        out / "config/versions_in_force.csv",
        ["kind", "value", "first_seq", "last_seq", "events"],
        [list(v) for v in versions],
    )
    entries.append(file_entry(out, "config/versions_in_force.csv", "text/csv", len(versions)))
    policies = []
    for seq, body in events_of_types(
        ctx.conn, ctx.origin, ["policy.published"], before=ctx.end_size
    ):
        data = orjson.loads(body)["data"]
        policies.append(
            {
                "seq": int(seq),
                "name": data["name"],
                "version": data["version"],
                "policy_hash": data["policy_hash"],
                "document_sha256_jcs": content_hash(data["document"]),
                "document": data["document"],
            }
        )
    _jsonl(out / "config/policies.jsonl", policies)
    entries.append(file_entry(out, "config/policies.jsonl", "application/jsonl", len(policies)))
    return entries + _registry_file(ctx)


def _registry_file(ctx: Context) -> list[dict[str, Any]]:
    """config/registries.jsonl: every `registry.published` event before the end size.

    Why the whole event body: registries published before the period are not in
    `events.jsonl`, yet the one in force judges the period's approvals. With the body the
    offline verifier matches each to the signed tree's leaf at its seq, so the exporter cannot
    hand over a registry the log does not hold.
    """
    rows = []
    for seq, body in events_of_types(
        ctx.conn, ctx.origin, ["registry.published"], before=ctx.end_size
    ):
        data = orjson.loads(body)["data"]
        rows.append(
            {
                "seq": int(seq),
                "name": data.get("name"),
                "version": data.get("version"),
                "registry_hash": data.get("registry_hash"),
                "body": body.decode("utf-8"),
            }
        )
    _jsonl(ctx.out / REGISTRIES, rows)
    return [file_entry(ctx.out, REGISTRIES, "application/jsonl", len(rows))]


def _replay_files(ctx: Context) -> list[dict[str, Any]]:
    """replays/: undo records and runtime verdicts gathered by the events pass."""
    out, entries = ctx.out, []
    _jsonl(out / "replays/undo_records.jsonl", ctx.agg.undo)
    entries.append(
        file_entry(out, "replays/undo_records.jsonl", "application/jsonl", len(ctx.agg.undo))
    )
    _jsonl(out / "replays/runtime_verdicts.jsonl", ctx.agg.verdicts)
    entries.append(
        file_entry(
            out, "replays/runtime_verdicts.jsonl", "application/jsonl", len(ctx.agg.verdicts)
        )
    )
    return entries


def _gap_files(ctx: Context) -> list[dict[str, Any]]:
    """exceptions/: what this bundle cannot show, and why."""
    out, entries = ctx.out, []
    replay = _replay_modules()
    gaps = _known_gaps(ctx, replay)
    (out / "exceptions/known_gaps.json").write_text(json.dumps(gaps, indent=2) + "\n")
    (out / "exceptions/known_gaps.md").write_text(bundle_docs.known_gaps_md(gaps))
    entries.append(file_entry(out, "exceptions/known_gaps.json", "application/json", len(gaps)))
    entries.append(file_entry(out, "exceptions/known_gaps.md", "text/markdown"))
    return entries


def _trust_files(ctx: Context) -> list[dict[str, Any]]:
    """keys/trust.json: the keys to compare out-of-band, and the key events of the log."""
    out, entries = ctx.out, []
    key_events = _key_events(ctx.conn, ctx.origin, ctx.end_size)
    trust = {
        "version": 1,
        "notice": "Compare these fingerprints with ones obtained out-of-band before trusting "
        "anything in this bundle.",
        "log_keys": [
            {
                "role": "log",
                "current": True,
                "vkey": ctx.signer_vkey,
                "fingerprint": ctx.signer_fingerprint,
                "public_key_hex": ctx.signer_public_key.hex(),
                "dsse_keyid": ctx.dsse_keyid,
            }
        ],
        "witness_keys": [{"vkey": v} for v in ctx.witness_vkeys],
        "dsse_signers": [
            {
                "keyid": ctx.dsse_keyid,
                "key": "log key (settings.log_key_path)",
                "public_key_hex": ctx.signer_public_key.hex(),
            }
        ],
        "key_events": key_events,
    }
    (out / "keys/trust.json").write_text(json.dumps(trust, indent=2) + "\n")
    entries.append(file_entry(out, "keys/trust.json", "application/json"))
    return entries


def _custody_files(ctx: Context) -> list[dict[str, Any]]:
    """custody/: who asked for the export, when, and what happened to it."""
    out, entries = ctx.out, []
    request = {
        "export_id": ctx.export_id,
        "requested_by": ctx.exported_by,
        "requested_at": ctx.created_at,
        "host": platform.node(),
        "parameters": ctx.params,
    }
    (out / "custody/export_request.json").write_text(json.dumps(request, indent=2) + "\n")
    _jsonl(
        out / "custody/custody_log.jsonl",
        [
            {
                "action": "requested",
                "at": ctx.created_at,
                "by": ctx.exported_by,
                "export_id": ctx.export_id,
            },
            {
                "action": "generated",
                "by": ctx.exported_by,
                "host": platform.node(),
                "events": ctx.events,
                "end_checkpoint_size": ctx.end_size,
                "next": "signed (attestation/bundle.dsse.json) and recorded as export.created "
                "with the manifest digest in the ledger",
            },
        ],
    )
    entries.append(file_entry(out, "custody/export_request.json", "application/json"))
    entries.append(file_entry(out, "custody/custody_log.jsonl", "application/jsonl", 2))
    return entries


def _matrix_files(ctx: Context) -> list[dict[str, Any]]:
    """controls/control-matrix.csv: each population with its control and evidence paths."""
    out, entries = ctx.out, []
    matrix = []
    for pop, count in zip(ctx.pops, ctx.counts, strict=True):
        evidence = [pop.path, pop.meta_path, "ledger/events.parquet"]
        if pop.control in ("CC8.1", "CC6.1"):
            evidence.append("config/versions_in_force.csv")
        if pop.control == "CC8.1":
            evidence.append("config/policies.jsonl")
        if pop.control == "CC6.3":
            evidence.append(REGISTRIES)
        if pop.control in ("CC7.4", "CC7.5"):
            evidence.append("replays/undo_records.jsonl")
        if pop.control == "CC7.2":
            evidence.append("replays/runtime_verdicts.jsonl")
        matrix.append(
            [pop.control, pop.criterion, pop.id, count, pop.procedure, " ".join(evidence)]
        )
    _csv(
        out / "controls/control-matrix.csv",
        ["control", "criterion", "population", "rows", "test_procedure", "evidence_paths"],
        matrix,
    )
    entries.append(file_entry(out, "controls/control-matrix.csv", "text/csv", len(matrix)))
    return entries


def _doc_files(ctx: Context) -> list[dict[str, Any]]:
    """README.md and VERIFY.md for the auditor."""
    out, entries = ctx.out, []
    (out / "README.md").write_text(
        bundle_docs.readme(
            ctx.params,
            ctx.export_id,
            ctx.created_at,
            ctx.events,
            ctx.start_size,
            ctx.end_size,
            ctx.pops,
            ctx.counts,
        )
    )
    (out / "VERIFY.md").write_text(bundle_docs.verify_md(ctx.signer_fingerprint, ctx.dsse_keyid))
    entries.append(file_entry(out, "README.md", "text/markdown"))
    entries.append(file_entry(out, "VERIFY.md", "text/markdown"))
    return entries


def write_all(ctx: Context) -> list[dict[str, Any]]:
    """Write every small file; return their manifest entries (in a stable order)."""
    stages = (
        _config_files,
        _replay_files,
        _gap_files,
        _trust_files,
        _custody_files,
        _matrix_files,
        _doc_files,
    )
    return [entry for stage in stages for entry in stage(ctx)]
