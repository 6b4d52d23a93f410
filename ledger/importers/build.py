"""Turn one source trace into the events of one ledger run, chained and encoded.

The run is what a live integration would have written for the same spans (the same event
types and fields as ledger.integrations.otel), with three differences that keep provenance
honest: every event says `trust: "imported"`; each record's events carry its source ids and
`source_sha256` in `raw.payload` (the record itself rides on its last event); and ids, times
and order are all derived from the source, so building the same trace twice gives the same
bytes, which the ingest path recognises as `already present`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledger import ids
from ledger.events import args_hash, encode_event, event_adapter, leaf_hash
from ledger.hooks.pricing import decimal_text
from ledger.importers.report import Gap
from ledger.importers.source import SourceSpan, TraceMeta, event_uuid, run_uuid
from ledger.secrets import scrub_event_json

__all__ = ["BuiltRun", "build_run"]


@dataclass(frozen=True, slots=True)
class BuiltRun:
    """A run's encoded events in chain order, each with the record it stands for (or None)."""

    run_id: uuid.UUID
    lines: list[tuple[str | None, bytes]]
    gaps: list[Gap]


def _error(span: SourceSpan) -> dict[str, str] | None:
    return {"type": "error", "message": span.error or ""} if span.failed else None


def _halves(s: SourceSpan) -> list[tuple[int, str, dict[str, Any]]]:
    """(time, phase, {type, data}) of one span: started/ended pairs for calls, else one event."""
    end = s.end_ns
    dur = end - s.start_ns if end is not None and end >= s.start_ns else None
    if s.kind == "llm":
        usage = ({"input_tokens": s.input_tokens, "output_tokens": s.output_tokens}
                 if s.input_tokens is not None or s.output_tokens is not None else None)
        cost = ({"amount_usd": s.cost_usd, "price_table_version": s.system}
                if s.cost_usd is not None else None)
        out = [(s.start_ns, "started", {"type": "llm.call.started", "data": {
            "call_id": s.span_id, "provider": s.provider, "request_model": s.model,
            "request": s.input}})]
        if end is not None:
            out.append((end, "ended", {"type": "llm.call.ended", "data": {
                "call_id": s.span_id, "response_model": s.model, "usage": usage, "cost": cost,
                "output": s.output, "error": _error(s), "duration_ns": dur}}))
        return out
    if s.kind == "tool":
        tool = s.tool or s.name
        call_id = s.tool_call_id or s.span_id
        out = [(s.start_ns, "started", {"type": "tool.call.started", "data": {
            "tool_call_id": call_id, "tool": tool, "args": s.input,
            "args_hash": args_hash(s.input)}})]
        if end is not None:
            out.append((end, "ended", {"type": "tool.call.ended", "data": {
                "tool_call_id": call_id, "tool": tool, "status": "error" if s.failed else "ok",
                "result": s.output, "error": _error(s), "duration_ns": dur}}))
        return out
    when = end if end is not None else s.start_ns
    if s.kind == "guardrail":  # missing data is never a pass
        verdict = "fail" if s.failed else (s.guardrail_verdict or "unknown")
        return [(when, "ended", {"type": "guardrail.evaluated", "data": {
            "name": s.name, "verdict": verdict}})]
    return [(when, "ended", {"type": "custom", "data": {"name": f"{s.system}.{s.kind}",
             "attributes": {"span": s.name, "status": "error" if s.failed else "ok"}}})]


class _Chain:
    """Assigns run_seq and prev_run_hash, and encodes, exactly as the ingest path will."""

    def __init__(self, run_id: uuid.UUID, envelope: dict[str, Any]) -> None:
        self.run_id = run_id
        self.envelope = envelope
        self.seq = 0
        self.prev: str | None = None
        self.lines: list[tuple[str | None, bytes]] = []

    def add(self, label: str | None, part: str, ns: int, body: dict[str, Any],
            **extra: Any) -> None:
        event = {**self.envelope, **extra, **body, "event_id": str(event_uuid(self.run_id, part)),
                 "run_seq": self.seq, "prev_run_hash": self.prev,
                 "occurred_at": ids.format_timestamp(ns)}
        event["data"] = {k: v for k, v in event["data"].items() if v is not None}
        typed = event_adapter.validate_python(scrub_event_json(event)[0])
        encoded = encode_event(typed)
        self.lines.append((label, encoded))
        self.prev = leaf_hash(encoded).hex()
        self.seq += 1


def _gaps(meta: TraceMeta, spans: list[SourceSpan]) -> list[Gap]:
    scope = f"trace {meta.trace_id}"
    gaps = []
    if meta.declared is not None and meta.declared != len(spans):
        gaps.append(Gap(scope, meta.declared, len(spans),
                        "the source lists more observations for this trace than were read"
                        if meta.declared > len(spans) else
                        "more observations were read than the source lists for this trace"))
    known = {s.span_id for s in spans}
    orphans = sorted({s.parent_id for s in spans if s.parent_id and s.parent_id not in known})
    if orphans:
        gaps.append(Gap(scope, len(known) + len(orphans), len(known),
                        f"{len(orphans)} parent span(s) not in the import: {orphans[0]}"
                        + (", ..." if len(orphans) > 1 else "")))
    return gaps


def _order(half: tuple[int, int, str, SourceSpan, dict[str, Any]]) -> tuple[int, int, int]:
    """Time order; at a tie what ended comes before what starts (a tool starting the instant
    its model call ended), and a zero-length span ends after it starts."""
    ns, index, phase, span, _ = half
    rank = 1 if phase == "started" else (0 if ns > span.start_ns else 2)
    return ns, rank, index


def build_run(meta: TraceMeta, spans: list[SourceSpan], tenant: str = "default") -> BuiltRun:
    """The encoded events of one trace's run in `tenant`'s log (spans in start order, at
    least one)."""
    first = spans[0]
    run_id = run_uuid(first.system, first.project, meta.trace_id, tenant)
    roots = [s for s in spans if not s.parent_id]
    user = meta.user or next((s.user for s in spans if s.user), None)
    session = meta.session or next((s.session for s in spans if s.session), None)
    agent = meta.name or (roots[0].name if roots else first.name) or first.system
    envelope: dict[str, Any] = {
        "run_id": str(run_id), "tenant": tenant, "trust": "imported",
        "agent": {"name": agent[:512]},
        "principal": {"initiating_user": user},
        "source": {"framework": first.system, "integration": "import", "schema": first.schema},
    }
    chain = _Chain(run_id, envelope)
    trace_corr = {"trace_id": meta.trace_id, "conversation_id": session}
    chain.add(None, "run.started", first.start_ns, {"type": "run.started", "data": {
        "task": agent, "attributes": {"imported_from": first.system, "project": first.project,
                                      "source_trace_id": meta.trace_id}}},
              correlation=trace_corr)
    halves = sorted(((ns, i, phase, s, body) for i, s in enumerate(spans)
                     for ns, phase, body in _halves(s)),
                    key=_order)
    last_half = {h[3].span_id: n for n, h in enumerate(halves)}
    totals = {"llm_calls": 0, "tool_calls": 0, "input_tokens": 0, "output_tokens": 0}
    cost = Decimal(0)
    for n, (ns, _, phase, s, body) in enumerate(halves):
        payload: dict[str, Any] = {"source": s.ids, "source_sha256": s.digest}
        if n == last_half[s.span_id]:
            payload["record"] = s.record
        corr = {**trace_corr, "span_id": s.span_id, "parent_span_id": s.parent_id,
                "conversation_id": s.session or session}
        chain.add(s.label, f"{s.span_id}/{phase}", ns, body, correlation=corr,
                  raw={"schema": s.schema, "payload": payload},
                  source={**envelope["source"], "schema": s.schema})
        if phase == "started":
            totals["llm_calls" if s.kind == "llm" else "tool_calls"] += 1
        if body["type"] == "llm.call.ended":
            totals["input_tokens"] += s.input_tokens or 0
            totals["output_tokens"] += s.output_tokens or 0
            cost += Decimal(s.cost_usd or "0")
    gaps = _gaps(meta, spans)
    end_ns = max(ns for ns, *_ in halves) if halves else first.start_ns
    for n, gap in enumerate(gaps):
        chain.add(None, f"ledger.gap/{n}", end_ns, {"type": "ledger.gap", "data": {
            "reason": gap.reason, "missing_events": max(gap.expected - gap.seen, 0),
            "details": gap.as_json()}}, correlation=trace_corr)
    failed = any(s.failed for s in roots)
    chain.add(None, "run.ended", end_ns, {"type": "run.ended", "data": {
        "status": "failed" if failed else "succeeded", "event_count": chain.seq + 1,
        "last_hash": chain.prev, "totals": {**totals, "cost_usd": decimal_text(cost)},
        "error": {"type": "error", "message": roots[0].error or ""} if failed else None}},
        correlation=trace_corr)
    return BuiltRun(run_id, chain.lines, gaps)
