"""OpenTelemetry: a SpanProcessor that turns GenAI spans into ledger events.

One processor covers every instrumentation that emits OpenTelemetry GenAI semantic conventions
(`gen_ai.*`) or OpenInference (`openinference.span.kind`, `llm.*`, `tool.*`). Each span becomes a
`*.started` event at `on_start` (so hangs are visible) and a `*.ended` event at `on_end`, linked
by trace and span ids. Normalised fields are mapped; the complete span (attributes, events,
status) is kept in `raw` with a schema tag naming the convention and version, so the mapping is
lossless and can be redone later. Spans outside any `ledger.run(...)` get a ledger run per trace,
started by the first span and ended with the root span.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from ledger.hooks.context import current_run
from ledger.hooks.runs import Run
from ledger.hooks.setup import get_writer
from ledger.hooks.tools import ToolCall

__all__ = ["LedgerSpanProcessor", "span_kind"]

SEMCONV_VERSION = "1.37"
OPENINFERENCE_VERSION = "0.1"
_LLM_OPS = {"chat", "text_completion", "generate_content", "embeddings"}


def _attr(attrs: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in attrs and attrs[key] is not None:
            return attrs[key]
    return None


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def span_kind(attrs: Mapping[str, Any]) -> str:
    """llm | tool | agent | guardrail | other, from gen_ai.operation.name or OpenInference."""
    op = str(attrs.get("gen_ai.operation.name", "")).lower()
    oi = str(attrs.get("openinference.span.kind", "")).upper()
    if op in _LLM_OPS or oi in {"LLM", "EMBEDDING"}:
        return "llm"
    if op == "execute_tool" or oi == "TOOL":
        return "tool"
    if op in {"invoke_agent", "create_agent", "invoke_workflow"} or oi in {"AGENT", "CHAIN"}:
        return "agent"
    if op in {"apply_guardrail", "run_guardrail"} or oi == "GUARDRAIL":
        return "guardrail"
    return "other"


def _schema(attrs: Mapping[str, Any]) -> str:
    if "openinference.span.kind" in attrs:
        return f"openinference@{OPENINFERENCE_VERSION}"
    return f"otel.gen_ai@{SEMCONV_VERSION}"


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _raw(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    return {
        "name": span.name,
        "kind": span.kind.name if span.kind is not None else None,
        "trace_id": _hex(ctx.trace_id, 32) if ctx else None,
        "span_id": _hex(ctx.span_id, 16) if ctx else None,
        "parent_span_id": _hex(span.parent.span_id, 16) if span.parent else None,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "time_unix_nano": e.timestamp,
                    "attributes": dict(e.attributes or {})} for e in span.events],
        "resource": dict(span.resource.attributes) if span.resource else {},
    }


@dataclass
class _Trace:
    run: Run
    owned: bool
    root_span: int | None = None
    spans: dict[int, Any] = field(default_factory=dict)


class LedgerSpanProcessor(SpanProcessor):
    """Add with `tracer_provider.add_span_processor(LedgerSpanProcessor())`, before any sampler."""

    def __init__(self, *, agent: str = "otel", user: str | None = None, run: Run | None = None,
                 **run_kwargs: Any) -> None:
        self._run = run
        self._agent = agent
        self._run_kwargs = {"user": user, **run_kwargs}
        self._traces: dict[int, _Trace] = {}
        self._lock = threading.Lock()

    def _trace_for(self, span: ReadableSpan) -> _Trace:
        ctx = span.get_span_context()
        trace_id = ctx.trace_id if ctx else 0
        with self._lock:
            trace = self._traces.get(trace_id)
            if trace is None:
                run = self._run or current_run()
                owned = run is None
                if run is None:
                    attrs = span.attributes or {}
                    name = _attr(attrs, "gen_ai.agent.name", "agent.name") or self._agent
                    conv = _attr(attrs, "gen_ai.conversation.id", "session.id")
                    user = self._run_kwargs.get("user") or _attr(attrs, "user.id")
                    kwargs = {**self._run_kwargs, "user": user}
                    run = Run(agent=str(name), conversation_id=conv,
                              source={"framework": "opentelemetry", "integration": "otel"},
                              **kwargs).begin()
                trace = _Trace(run, owned, root_span=ctx.span_id if owned and ctx else None)
                self._traces[trace_id] = trace
            return trace

    def _meta(self, span: ReadableSpan) -> tuple[dict[str, str], dict[str, Any]]:
        attrs = span.attributes or {}
        ctx = span.get_span_context()
        corr: dict[str, Any] = {}
        if ctx:
            corr = {"trace_id": _hex(ctx.trace_id, 32), "span_id": _hex(ctx.span_id, 16)}
        if span.parent:
            corr["parent_span_id"] = _hex(span.parent.span_id, 16)
        conv = _attr(attrs, "gen_ai.conversation.id", "session.id")
        if conv:
            corr["conversation_id"] = str(conv)
        source = {"framework": "opentelemetry", "integration": "otel", "schema": _schema(attrs)}
        return source, corr

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Record the *started* half (LLM request or tool intent) as soon as the span opens."""
        try:
            self._on_start(span)
        except Exception:  # never break the instrumented application
            return

    def _on_start(self, span: Span) -> None:
        trace = self._trace_for(span)
        attrs = span.attributes or {}
        source, corr = self._meta(span)
        kind = span_kind(attrs)
        sid = span.get_span_context().span_id
        raw = (source["schema"], {"name": span.name, "attributes": dict(attrs), "phase": "start"})
        if kind == "llm":
            trace.spans[sid] = trace.run.llm_started(
                model=_attr(attrs, "gen_ai.request.model", "llm.model_name"),
                provider=_attr(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider"),
                request=_maybe_json(_attr(attrs, "gen_ai.input.messages", "input.value")),
                call_id=_hex(sid, 16), raw=raw, source=source, correlation=corr)
        elif kind == "tool":
            name = _attr(attrs, "gen_ai.tool.name", "tool.name") or span.name
            args = _maybe_json(_attr(attrs, "gen_ai.tool.call.arguments", "tool.parameters",
                                     "input.value"))
            call_id = _attr(attrs, "gen_ai.tool.call.id", "tool_call.id") or _hex(sid, 16)
            trace.spans[sid] = trace.run.tool_started(
                str(name), args, tool_call_id=str(call_id), side_effect="unknown", raw=raw,
                source=source, correlation=corr, check_stop=False)  # an observer: cannot stop
        elif sid != trace.root_span:
            trace.spans[sid] = trace.run.custom(f"otel.{kind}.started", span=span.name,
                                                attributes=dict(attrs))

    def on_end(self, span: ReadableSpan) -> None:
        """Record the *ended* half with usage, outcome and the full span in `raw`."""
        try:
            self._on_end(span)
        except Exception:
            return

    def _on_end(self, span: ReadableSpan) -> None:
        trace = self._trace_for(span)
        attrs = span.attributes or {}
        source, corr = self._meta(span)
        ctx = span.get_span_context()
        sid = ctx.span_id if ctx else 0
        started = trace.spans.pop(sid, None)
        kind = span_kind(attrs)
        raw = (source["schema"], _raw(span))
        failed = span.status.status_code == StatusCode.ERROR
        error = None
        if failed:
            error = span.status.description or _attr(attrs, "error.type") or "error"
        duration = (span.end_time - span.start_time) if span.end_time and span.start_time else None
        run = trace.run
        if kind == "llm" and isinstance(started, str):
            finish = _attr(attrs, "gen_ai.response.finish_reasons")
            run.llm_ended(
                started,
                response_model=_attr(attrs, "gen_ai.response.model", "gen_ai.request.model",
                                     "llm.model_name"),
                output=_maybe_json(_attr(attrs, "gen_ai.output.messages", "output.value")),
                input_tokens=_attr(attrs, "gen_ai.usage.input_tokens", "llm.token_count.prompt"),
                output_tokens=_attr(attrs, "gen_ai.usage.output_tokens",
                                    "llm.token_count.completion"),
                finish_reason=str(finish[0]) if finish else None, duration_ns=duration,
                error=str(error) if error else None, raw=raw, source=source, correlation=corr)
        elif kind == "tool" and isinstance(started, ToolCall):
            result = _maybe_json(_attr(attrs, "gen_ai.tool.call.result", "output.value"))
            run.tool_ended(started, status="error" if failed else "ok", result=result,
                           error=str(error) if error else None, raw=raw, source=source,
                           correlation=corr)
        elif kind == "guardrail":
            verdict = "fail" if failed or attrs.get("guardrail.triggered") else "pass"
            run.record("guardrail.evaluated", {"name": span.name, "verdict": verdict,
                                               "details": dict(attrs)},
                       raw=raw, source=source, correlation=corr)
        elif sid != trace.root_span:
            run.record("custom", {"name": f"otel.{kind}.ended", "attributes": {
                "span": span.name, "status": span.status.status_code.name}},
                raw=raw, source=source, correlation=corr)
        if sid == trace.root_span and trace.owned:
            with self._lock:
                self._traces.pop(ctx.trace_id if ctx else 0, None)
            run.end("failed" if failed else "succeeded", str(error) if error else None)

    def shutdown(self) -> None:
        """End any run still open (its spans never ended) and flush the writer."""
        with self._lock:
            traces, self._traces = list(self._traces.values()), {}
        for trace in traces:
            if trace.owned:
                trace.run.end("stopped", "tracer shut down before the root span ended")
        self.force_flush()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until the ledger has the events (durable or spooled)."""
        get_writer().flush(timeout_millis / 1000)
        return True
