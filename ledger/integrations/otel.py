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
    """What the processor keeps of a trace until its first span (its local root) ends."""

    root_span: int  # the first span seen: its end ends the trace's own run
    first: Any  # that span: its attributes name the trace's own run, made when first needed
    run: Run | None = None  # the trace's own (implicit) run, when a span needed one
    joined: Run | None = None  # the last `ledger.run(...)` a span of the trace was started in
    root_skipped: bool = False  # the root span stands for the trace's own run: no custom pair
    spans: dict[int, tuple[Run, Any]] = field(default_factory=dict)
    users_seen: set[tuple[Any, str]] = field(default_factory=set)


class LedgerSpanProcessor(SpanProcessor):
    """Add with `tracer_provider.add_span_processor(LedgerSpanProcessor())`, before any sampler.

    `user=` is the default initiating user for traces that name none; `run=` pins every span to
    one run (otherwise the `ledger.run(...)` current where the span starts, else a run per
    trace: a web framework's server span often starts before the handler's `ledger.run`)."""

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
                trace = _Trace(root_span=ctx.span_id if ctx else 0, first=span)
                self._traces[trace_id] = trace
            return trace

    def _joined(self, trace: _Trace) -> Run | None:
        """The run a span starting now joins: `run=`, the current `ledger.run(...)`, else the
        one an earlier span of the trace joined (a span started where the context was lost)."""
        run = self._run or current_run()
        if run is not None:
            trace.joined = run
            return run
        return trace.joined if trace.joined is not None and not trace.joined.ended else None

    def _run_for(self, trace: _Trace) -> Run:
        """The run of a span: the joined one, else the trace's own (begun now if need be)."""
        run = self._joined(trace)
        if run is not None:
            return run
        with self._lock:
            if trace.run is None:
                trace.run = self._begin(trace.first)
                if trace.run.user:
                    trace.users_seen.add((trace.run.run_id, trace.run.user))
            return trace.run
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

    def _note_user(self, trace: _Trace, run: Run, span: ReadableSpan) -> None:
        """A span naming a user other than its run's: recorded, never silently absorbed."""
        who = span_user(span.attributes or {}, {}, None)
        if run.user:
            trace.users_seen.add((run.run_id, run.user))
        if who.user is None or (run.run_id, who.user) in trace.users_seen:
            return
        trace.users_seen.add((run.run_id, who.user))
        source, corr = self._meta(span)
        run.record("custom", {"name": "otel.user.conflict", "attributes": {
            "span": span.name, "span_user": who.user, "attribute": who.source,
            "run_user": run.user}}, source=source, correlation=corr)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Record the *started* half (LLM request or tool intent) as soon as the span opens."""
        try:
            self._on_start(span)
        except Exception as exc:  # never break the instrumented application; say so
            _log.error("ledger: span %r not recorded at start: %s", span.name,
                       type(exc).__name__)

    def _on_start(self, span: Span) -> None:
        trace = self._trace_for(span)
        attrs = span.attributes or {}
        kind = span_kind(attrs)
        sid = span.get_span_context().span_id
        if sid == trace.root_span and self._joined(trace) is None:
            trace.root_skipped = kind not in ("llm", "tool")  # it stands for the trace's run
            if kind == "other":  # a web server's span, say: a run only once a span needs one
                return
        run = self._run_for(trace)
        self._note_user(trace, run, span)
        source, corr = self._meta(span)
        raw = (source["schema"], {"name": span.name, "attributes": dict(attrs), "phase": "start"})
        if kind == "llm":
            trace.spans[sid] = run, run.llm_started(
                model=attr(attrs, "gen_ai.request.model", "llm.model_name"),
                provider=attr(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider"),
                request=maybe_json(attr(attrs, "gen_ai.input.messages", "input.value")),
                call_id=_hex(sid, 16), raw=raw, source=source, correlation=corr)
        elif kind == "tool":
            name = attr(attrs, "gen_ai.tool.name", "tool.name") or span.name
            args = maybe_json(attr(attrs, "gen_ai.tool.call.arguments", "tool.parameters",
                                   "input.value"))
            call_id = attr(attrs, "gen_ai.tool.call.id", "tool_call.id") or _hex(sid, 16)
            trace.spans[sid] = run, run.tool_started(
                str(name), args, tool_call_id=str(call_id), side_effect="unknown", raw=raw,
                source=source, correlation=corr, check_stop=False)  # an observer: cannot stop
        elif sid != trace.root_span or run is not trace.run:
            trace.spans[sid] = run, run.custom(f"otel.{kind}.started", span=span.name,
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
        attrs = span.attributes or {}
        ctx = span.get_span_context()
        sid = ctx.span_id if ctx else 0
        kind = span_kind(attrs)
        root = sid == trace.root_span
        run, started = trace.spans.pop(sid, (None, None))
        failed = span.status.status_code == StatusCode.ERROR
        error = None
        if failed:
            error = (span.status.description or exception_text(span.events)
                     or attr(attrs, "error.type") or "error")
        record = run is not None or kind == "guardrail" or not (root and trace.root_skipped)
        if record:
            run = run or self._run_for(trace)
        elif root:
            run = trace.run  # the root stands for it (None: no span of the trace needed one)
        if run is not None:
            self._note_user(trace, run, span)  # a user set on the span after it started
            if record:
                self._record_end(run, span, kind, started, error)
        if root:
            with self._lock:
                self._traces.pop(ctx.trace_id if ctx else 0, None)
            if trace.run is not None:
                trace.run.end("failed" if failed else "succeeded", str(error) if error else None)

    def _record_end(self, run: Run, span: ReadableSpan, kind: str, started: Any,
                    error: Any) -> None:
        """The *ended* half of a span, in the run its start was recorded in."""
        attrs = span.attributes or {}
        source, corr = self._meta(span)
        raw = (source["schema"], _raw(span))
        if kind == "llm" and isinstance(started, str):
            self._llm_ended(run, started, span, error, raw=raw, source=source, corr=corr)
        elif kind == "tool" and isinstance(started, ToolCall):
            result = maybe_json(attr(attrs, "gen_ai.tool.call.result", "output.value"))
            run.tool_ended(started, status="error" if error else "ok", result=result,
                           error=str(error) if error else None, raw=raw, source=source,
                           correlation=corr)
        elif kind == "guardrail":
            rule = attr(attrs, "guardrail.rule", "guardrail.name")
            run.record("guardrail.evaluated", {
                "name": span.name, "verdict": guardrail_verdict(attrs, error is not None),
                "rule": None if rule is None else str(rule), "details": dict(attrs)},
                raw=raw, source=source, correlation=corr)
        elif kind not in ("llm", "tool"):
            run.record("custom", {"name": f"otel.{kind}.ended", "attributes": {
                "span": span.name, "status": span.status.status_code.name}},
                raw=raw, source=source, correlation=corr)

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
            if trace.run is not None:
                trace.run.end("stopped", "tracer shut down before the root span ended")
        self.force_flush()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until the ledger has the events (durable or spooled)."""
        get_writer().flush(timeout_millis / 1000)
        return True
