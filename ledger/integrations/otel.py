"""OpenTelemetry: a SpanProcessor that turns GenAI spans into ledger events.

One processor covers every instrumentation that emits OpenTelemetry GenAI semantic conventions
(`gen_ai.*`) or OpenInference (`openinference.span.kind`, `llm.*`, `tool.*`). Each span becomes a
`*.started` event at `on_start` (so hangs are visible) and a `*.ended` event at `on_end`, linked
by trace and span ids. Normalised fields are mapped; the span (attributes, events without stack
traces, status) is kept in `raw` with a schema tag naming the convention and version, so the
mapping can be redone later. Spans outside any `ledger.run(...)` get a ledger run per trace,
started by the first span and ended with the root span, whose user is the trace's own
(`user.id` / `enduser.id` on the span, then the resource), the processor's `user=` only when the
trace names none.

The processor is an observer: it records intent when a tool span starts, before the body runs,
but it does not wait for the acknowledgement and cannot refuse a call (a span processor must not
break the application). Events it cannot deliver are spooled like every hook's; a failure inside
the processor itself is logged, never raised into the traced code.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ledger.hooks.context import current_run
from ledger.hooks.runs import Run
from ledger.hooks.setup import get_writer
from ledger.hooks.tools import ToolCall
from ledger.integrations import missing_extra

try:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
    from opentelemetry.trace import StatusCode
except ImportError as _missing:
    raise missing_extra(__name__, "otel", _missing) from None
from ledger.integrations.otel_attrs import (
    attr,
    exception_text,
    guardrail_verdict,
    maybe_json,
    proposed_tool_calls,
    scrub_events,
    source_schema,
    span_kind,
    span_user,
)

__all__ = ["LedgerSpanProcessor", "span_kind"]

_log = logging.getLogger("ledger.integrations.otel")


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _resource(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.resource.attributes) if span.resource else {}


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
        "events": scrub_events(span.events),
        "resource": _resource(span),
    }


@dataclass
class _Trace:
    run: Run
    owned: bool
    root_span: int | None = None
    spans: dict[int, Any] = field(default_factory=dict)
    users_seen: set[str] = field(default_factory=set)


class LedgerSpanProcessor(SpanProcessor):
    """Add with `tracer_provider.add_span_processor(LedgerSpanProcessor())`, before any sampler.

    `user=` is the default initiating user for traces that name none; `run=` pins every span to
    one run (otherwise the current `ledger.run(...)`, else a run per trace)."""

    def __init__(self, *, agent: str = "otel", user: str | None = None, run: Run | None = None,
                 **run_kwargs: Any) -> None:
        self._run = run
        self._agent = agent
        self._user = user
        self._run_kwargs = run_kwargs
        self._traces: dict[int, _Trace] = {}
        self._lock = threading.Lock()

    def _begin(self, span: ReadableSpan) -> Run:
        """The implicit run of a trace: agent, conversation and user from the first span."""
        attrs = span.attributes or {}
        who = span_user(attrs, _resource(span), self._user)
        name = attr(attrs, "gen_ai.agent.name", "agent.name") or self._agent
        conv = attr(attrs, "gen_ai.conversation.id", "session.id")
        attributes = dict(self._run_kwargs.get("attributes") or {})
        if who.source:
            attributes["otel.user_source"] = who.source
        if who.others:
            attributes["otel.user_conflicts"] = who.others
        kwargs = {k: v for k, v in self._run_kwargs.items() if k != "attributes"}
        return Run(agent=str(name), user=who.user, conversation_id=conv, attributes=attributes,
                   source={"framework": "opentelemetry", "integration": "otel"},
                   **kwargs).begin()

    def _trace_for(self, span: ReadableSpan) -> _Trace:
        ctx = span.get_span_context()
        trace_id = ctx.trace_id if ctx else 0
        with self._lock:
            trace = self._traces.get(trace_id)
            if trace is None:
                run = self._run or current_run()
                owned = run is None
                if run is None:
                    run = self._begin(span)
                trace = _Trace(run, owned, root_span=ctx.span_id if owned and ctx else None)
                if run.user:
                    trace.users_seen.add(run.user)
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
        conv = attr(attrs, "gen_ai.conversation.id", "session.id")
        if conv:
            corr["conversation_id"] = str(conv)
        source = {"framework": "opentelemetry", "integration": "otel",
                  "schema": source_schema(attrs)}
        return source, corr

    def _note_user(self, trace: _Trace, span: ReadableSpan) -> None:
        """A span naming a user other than its run's: recorded, never silently absorbed."""
        who = span_user(span.attributes or {}, {}, None)
        if who.user is None or who.user in trace.users_seen:
            return
        trace.users_seen.add(who.user)
        source, corr = self._meta(span)
        trace.run.record("custom", {"name": "otel.user.conflict", "attributes": {
            "span": span.name, "span_user": who.user, "attribute": who.source,
            "run_user": trace.run.user}}, source=source, correlation=corr)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Record the *started* half (LLM request or tool intent) as soon as the span opens."""
        try:
            self._on_start(span)
        except Exception as exc:  # never break the instrumented application; say so
            _log.error("ledger: span %r not recorded at start: %s", span.name,
                       type(exc).__name__)

    def _on_start(self, span: Span) -> None:
        trace = self._trace_for(span)
        self._note_user(trace, span)
        attrs = span.attributes or {}
        source, corr = self._meta(span)
        kind = span_kind(attrs)
        sid = span.get_span_context().span_id
        raw = (source["schema"], {"name": span.name, "attributes": dict(attrs), "phase": "start"})
        if kind == "llm":
            trace.spans[sid] = trace.run.llm_started(
                model=attr(attrs, "gen_ai.request.model", "llm.model_name"),
                provider=attr(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider"),
                request=maybe_json(attr(attrs, "gen_ai.input.messages", "input.value")),
                call_id=_hex(sid, 16), raw=raw, source=source, correlation=corr)
        elif kind == "tool":
            name = attr(attrs, "gen_ai.tool.name", "tool.name") or span.name
            args = maybe_json(attr(attrs, "gen_ai.tool.call.arguments", "tool.parameters",
                                   "input.value"))
            call_id = attr(attrs, "gen_ai.tool.call.id", "tool_call.id") or _hex(sid, 16)
            trace.spans[sid] = trace.run.tool_started(
                str(name), args, tool_call_id=str(call_id), side_effect="unknown", raw=raw,
                source=source, correlation=corr, check_stop=False)  # an observer: cannot stop
        elif sid != trace.root_span:
            trace.spans[sid] = trace.run.custom(f"otel.{kind}.started", span=span.name,
                                                attributes=dict(attrs))

    def on_end(self, span: ReadableSpan) -> None:
        """Record the *ended* half with usage, outcome and the span in `raw`."""
        try:
            self._on_end(span)
        except Exception as exc:
            _log.error("ledger: span %r not recorded at end: %s", span.name,
                       type(exc).__name__)

    def _on_end(self, span: ReadableSpan) -> None:
        trace = self._trace_for(span)
        self._note_user(trace, span)  # a user set on the span after it started
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
            error = (span.status.description or exception_text(span.events)
                     or attr(attrs, "error.type") or "error")
        run = trace.run
        if kind == "llm" and isinstance(started, str):
            self._llm_ended(run, started, span, error, raw=raw, source=source, corr=corr)
        elif kind == "tool" and isinstance(started, ToolCall):
            result = maybe_json(attr(attrs, "gen_ai.tool.call.result", "output.value"))
            run.tool_ended(started, status="error" if failed else "ok", result=result,
                           error=str(error) if error else None, raw=raw, source=source,
                           correlation=corr)
        elif kind == "guardrail":
            rule = attr(attrs, "guardrail.rule", "guardrail.name")
            run.record("guardrail.evaluated", {
                "name": span.name, "verdict": guardrail_verdict(attrs, failed),
                "rule": None if rule is None else str(rule), "details": dict(attrs)},
                raw=raw, source=source, correlation=corr)
        elif sid != trace.root_span:
            run.record("custom", {"name": f"otel.{kind}.ended", "attributes": {
                "span": span.name, "status": span.status.status_code.name}},
                raw=raw, source=source, correlation=corr)
        if sid == trace.root_span and trace.owned:
            with self._lock:
                self._traces.pop(ctx.trace_id if ctx else 0, None)
            run.end("failed" if failed else "succeeded", str(error) if error else None)

    @staticmethod
    def _llm_ended(run: Run, call_id: str, span: ReadableSpan, error: Any, *,
                   raw: tuple[str, Any], source: dict[str, str], corr: dict[str, Any]) -> None:
        attrs = span.attributes or {}
        finish = attr(attrs, "gen_ai.response.finish_reasons")
        duration = (span.end_time - span.start_time) if span.end_time and span.start_time else None
        run.llm_ended(
            call_id,
            response_model=attr(attrs, "gen_ai.response.model", "gen_ai.request.model",
                                "llm.model_name"),
            output=maybe_json(attr(attrs, "gen_ai.output.messages", "output.value")),
            input_tokens=attr(attrs, "gen_ai.usage.input_tokens", "llm.token_count.prompt"),
            output_tokens=attr(attrs, "gen_ai.usage.output_tokens", "llm.token_count.completion"),
            tool_calls=proposed_tool_calls(attrs),
            finish_reason=str(finish[0]) if finish else None, duration_ns=duration,
            error=str(error) if error else None, raw=raw, source=source, correlation=corr)

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
