"""Read Langfuse exports: public-API JSON pages and blob-export JSON Lines.

Formats (shapes from Langfuse's published API types, `langfuse.api` in the SDK):
- public-API JSON: one response page per file, `{"data": [...], "meta": {...}}`, from
  `GET /api/public/traces` (trace records) or `GET /api/public/observations` (v1 or v2);
  `meta.totalItems`, when present, is reconciled against the records read (a `Gap` if not).
- blob-export JSONL: one trace or observation object per line (`.jsonl`, `.ndjson`).
Both camelCase (API) and snake_case (some exports) keys are read. Files are streamed (JSONL
line by line, JSON one page at a time); a DIR is read file by file in name order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ledger import ids
from ledger.errors import InputError
from ledger.hooks.pricing import decimal_text
from ledger.importers.report import SKIPPED, Gap, ImportReport, RecordOutcome
from ledger.importers.source import Kind, SourceSpan, TraceMeta, check_record, record_digest
from ledger.importers.staging import Staging
from ledger.store.append import MAX_EVENT_BYTES

__all__ = ["SCHEMA", "read_langfuse"]

SCHEMA = "langfuse.observation@public-api"
_KINDS: dict[str, Kind] = {"GENERATION": "llm", "EMBEDDING": "llm", "TOOL": "tool",
                           "GUARDRAIL": "guardrail", "AGENT": "agent", "CHAIN": "agent"}
_SUFFIXES = {".json", ".jsonl", ".ndjson"}
MAX_LINE = MAX_EVENT_BYTES
"""A longer JSONL line is skipped unread: its record could not fit in an event anyway."""


def _get(rec: dict[str, Any], camel: str) -> Any:
    """A field by its API (camelCase) name, or its snake_case form."""
    if camel in rec:
        return rec[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return rec.get(snake)


def _int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _usage(rec: dict[str, Any]) -> tuple[int | None, int | None]:
    details = _get(rec, "usageDetails") or _get(rec, "usage") or {}
    if not isinstance(details, dict):
        return None, None
    return (_int(details.get("input", details.get("promptTokens"))),
            _int(details.get("output", details.get("completionTokens"))))


def _cost(rec: dict[str, Any]) -> str | None:
    value = _get(rec, "totalCost")
    if value is None and isinstance(_get(rec, "costDetails"), dict):
        value = _get(rec, "costDetails").get("total")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return decimal_text(Decimal(repr(value)))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def observation(rec: dict[str, Any]) -> SourceSpan:
    """One Langfuse observation as a SourceSpan; ValueError with the reason if it cannot be."""
    span_id, trace_id, start = _get(rec, "id"), _get(rec, "traceId"), _get(rec, "startTime")
    if not isinstance(span_id, str) or not span_id:
        raise ValueError("observation without an id")
    if not isinstance(trace_id, str) or not trace_id:
        raise ValueError("observation without a traceId")
    try:
        start_ns = ids.parse_timestamp(str(start))
        end = _get(rec, "endTime")
        end_ns = ids.parse_timestamp(str(end)) if end is not None else None
    except (ValueError, OverflowError):
        raise ValueError("startTime/endTime is not an RFC 3339 timestamp") from None
    kind = _KINDS.get(str(_get(rec, "type")).upper(), "other")
    meta = _get(rec, "metadata") if isinstance(_get(rec, "metadata"), dict) else {}
    tokens_in, tokens_out = _usage(rec)
    verdict = meta.get("verdict") if meta.get("verdict") in ("pass", "fail", "warn") else None
    return SourceSpan(
        system="langfuse", project=str(_get(rec, "projectId") or "default"),
        trace_id=trace_id, span_id=span_id, parent_id=_text(_get(rec, "parentObservationId")),
        name=str(_get(rec, "name") or _get(rec, "type") or "observation"), kind=kind,
        start_ns=start_ns, end_ns=end_ns, schema=SCHEMA, record=rec, digest=record_digest(rec),
        failed=_get(rec, "level") == "ERROR", error=_text(_get(rec, "statusMessage")),
        model=_text(_get(rec, "model")), provider=_text(meta.get("provider")),
        input=_get(rec, "input"), output=_get(rec, "output"), input_tokens=tokens_in,
        output_tokens=tokens_out, cost_usd=_cost(rec), tool=_text(_get(rec, "name")),
        tool_call_id=_text(meta.get("tool_call_id")), user=_text(_get(rec, "userId")),
        session=_text(_get(rec, "sessionId")), guardrail_verdict=verdict)


def _trace(rec: dict[str, Any]) -> TraceMeta:
    listed = _get(rec, "observations")
    return TraceMeta(trace_id=str(rec["id"]), name=_text(_get(rec, "name")),
                     user=_text(_get(rec, "userId")), session=_text(_get(rec, "sessionId")),
                     declared=len(listed) if isinstance(listed, list) else None)


def _is_trace(rec: dict[str, Any]) -> bool:
    return "timestamp" in rec and _get(rec, "startTime") is None and _get(rec, "traceId") is None


@dataclass
class _Reader:
    staging: Staging
    report: ImportReport
    declared: dict[str, int] = field(default_factory=dict)
    read: dict[str, int] = field(default_factory=lambda: {"traces": 0, "observations": 0})

    def record(self, where: str, rec: Any) -> None:
        try:
            check_record(rec)
        except ValueError as exc:  # before anything recursive reads it (str(), digest)
            self.report.seen += 1
            self.report.add(RecordOutcome(where, SKIPPED, str(exc)))
            return
        if isinstance(rec, dict) and _is_trace(rec) and isinstance(rec.get("id"), str):
            self.read["traces"] += 1
            self.staging.add_trace(_trace(rec))
            return
        self.report.seen += 1
        self.read["observations"] += 1
        if not isinstance(rec, dict):
            self.report.add(RecordOutcome(where, SKIPPED, "not a JSON object"))
            return
        try:
            span = observation(rec)
        except ValueError as exc:
            self.report.add(RecordOutcome(where, SKIPPED, str(exc)))
            return
        if (dup := self.staging.add(span)) is not None:
            self.report.add(RecordOutcome(span.label, SKIPPED, dup))

    def page(self, path: Path) -> None:
        try:
            body = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}: not JSON ({exc})") from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise InputError(f"{path}: not a Langfuse API page (no \"data\" list)")
        kind = ""
        for n, rec in enumerate(body["data"]):
            self.record(f"{path.name}#{n}", rec)
            kind = "traces" if isinstance(rec, dict) and _is_trace(rec) else "observations"
        meta = body.get("meta")
        total = meta.get("totalItems") if isinstance(meta, dict) else None
        if kind and type(total) is int:
            self.declared[kind] = max(self.declared.get(kind, 0), total)

    def lines(self, path: Path) -> None:
        with path.open("rb") as stream:
            for number, line in _bounded_lines(stream):
                if line is None:
                    self.report.seen += 1
                    self.report.add(RecordOutcome(f"{path.name}:{number}", SKIPPED,
                                                  f"line longer than {MAX_LINE} bytes"))
                    continue
                if not line.strip():
                    continue
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    self.report.seen += 1
                    self.report.add(RecordOutcome(f"{path.name}:{number}", SKIPPED, "not JSON"))
                    continue
                self.record(f"{path.name}:{number}", rec)


def _bounded_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(number, line) of a JSONL file, None for a line over MAX_LINE bytes, which is read past
    in MAX_LINE pieces: one huge line (or a file with no newline) never sits in memory."""
    number = 0
    while line := stream.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            while line and not line.endswith(b"\n"):
                line = stream.readline(MAX_LINE + 1)
            yield number, None
        else:
            yield number, line


def _files(target: Path) -> Iterator[Path]:
    if target.is_file():
        yield target
    elif target.is_dir():
        yield from sorted(p for p in target.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
    else:
        raise InputError(f"no such file or directory: {target}")


def read_langfuse(target: Path, staging: Staging, report: ImportReport) -> None:
    """Stage every observation (and trace record) of a file or directory of exports."""
    reader = _Reader(staging, report)
    for path in _files(target):
        if path.suffix == ".json":
            reader.page(path)
        else:
            reader.lines(path)
    for kind, total in sorted(reader.declared.items()):
        if total != reader.read[kind]:
            report.gaps.append(Gap(f"langfuse {kind}", total, reader.read[kind],
                                   f"the API reported {total} {kind} (meta.totalItems), "
                                   f"{reader.read[kind]} were read"))
