"""OpenAI Agents SDK tracing: agent, handoff and guardrail spans (see openai_agents.py).

Handoffs have one owner: `LedgerRunHooks.on_handoff` when the hooks are passed (the documented
set-up), so the processor records handoff spans only with `record_calls=True` (the set-up
without hooks). Outside a ledger run the processor joins the implicit run the hooks opened for
the same trace while it is open; a trace the hooks do not own gets a run of its own.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

from agents import TracingProcessor
from agents.tracing import Span, Trace

from ledger.hooks.context import current_run
from ledger.hooks.runs import Run
from ledger.hooks.setup import get_writer
from ledger.integrations.openai_agents_calls import MAX_NOTED, SOURCE, parse_args
from ledger.integrations.openai_agents_runs import trace_done, trace_run, watch_trace

__all__ = ["SCHEMA", "LedgerTracingProcessor"]

SCHEMA = f"openai-agents@{version('openai-agents')}/span_data"
_SKIP_CUSTOM = {"task", "turn"}


class LedgerTracingProcessor(TracingProcessor):
    """Agent and guardrail spans; with `record_calls=True` also handoff, generation, response
    and function spans (use that when not also passing `LedgerRunHooks`, to avoid duplicates).
    """

    def __init__(self, *, agent: str = "openai-agents", record_calls: bool = False,
                 **run_kwargs: Any) -> None:
        self._agent = agent
        self._record_calls = record_calls
        self._run_kwargs = run_kwargs
        self._runs: dict[str, Run] = {}  # runs begun here, for traces nobody else records
        self._traces: dict[str, tuple[str | None, str | None]] = {}
        self._lock = threading.Lock()

    def _run_for(self, trace_id: str) -> Run:
        """The run a span joins: the current ledger run, else the implicit run the hooks
        hold open for this trace, else (a trace nobody else records) a run of its own."""
        run = current_run() or trace_run(trace_id)
        if run is not None:
            return run
        with self._lock:
            own = self._runs.get(trace_id)
            if own is None:
                name, group_id = self._traces.get(trace_id, (None, None))
                own = self._runs[trace_id] = Run(
                    agent=name or self._agent, conversation_id=group_id,
                    source={**SOURCE, "schema": SCHEMA}, **self._run_kwargs).begin()
            return own

    def on_trace_start(self, trace: Trace) -> None:
        """Note the trace; its run is found (or begun) at its first span's end."""
        with self._lock:
            self._traces[trace.trace_id] = (trace.name, getattr(trace, "group_id", None))
            while len(self._traces) > MAX_NOTED:
                del self._traces[next(iter(self._traces))]

    def on_trace_end(self, trace: Trace) -> None:
        """End the run this processor started for the trace."""
        self._end_own(trace.trace_id)

    def _end_own(self, trace_id: str) -> None:
        with self._lock:
            self._traces.pop(trace_id, None)
            own = self._runs.pop(trace_id, None)
        if own is not None:
            own.end("succeeded")

    def on_span_start(self, span: Span[Any]) -> None:
        """Nothing is recorded (spans are recorded complete at their end); a trace whose
        implicit run the hooks hold is noted, so that run ends after the trace's last span."""
        watch_trace(span.trace_id)

    def on_span_end(self, span: Span[Any]) -> None:
        """Map the finished span to an event, keeping `span.export()` in raw."""
        try:
            self._on_span_end(span)
        except Exception:  # never break the agent run
            return
        finally:
            if span.span_data.type == "task":  # the trace's last span, also when resumed
                trace_done(span.trace_id)  # (the SDK calls no on_trace_end on a resume)
                self._end_own(span.trace_id)

    def _on_span_end(self, span: Span[Any]) -> None:
        data = span.span_data
        kind = data.type
        exported = span.export() or {}
        run = self._run_for(span.trace_id)
        corr = {"trace_id": span.trace_id, "span_id": span.span_id,
                "parent_span_id": span.parent_id}
        raw = (SCHEMA, exported)
        source = {**SOURCE, "schema": SCHEMA}
        name = getattr(data, "name", None) or kind
        error = span.error
        if kind == "guardrail":
            verdict = "fail" if getattr(data, "triggered", False) else "pass"
            run.record("guardrail.evaluated", {"name": name, "verdict": verdict},
                       raw=raw, source=source, correlation=corr)
        elif kind == "function" and self._record_calls:
            call = run.tool_started(str(name), parse_args(getattr(data, "input", None)),
                                    source=source, correlation=corr,
                                    check_stop=False)  # the span ended: the tool ran
            run.tool_ended(call, status="error" if error else "ok",
                           result=getattr(data, "output", None),
                           error=str(error.get("message")) if error else None, raw=raw,
                           source=source, correlation=corr)
        elif kind in {"generation", "response"} and self._record_calls:
            self._llm_span(run, data, kind, raw=raw, source=source, corr=corr, error=error)
        elif kind == "handoff" and not self._record_calls:
            return  # LedgerRunHooks.on_handoff owns handoffs (one record per handoff)
        elif kind in {"agent", "handoff", "custom", "mcp_tools"} and name not in _SKIP_CUSTOM:
            run.record("custom", {"name": f"openai_agents.{kind}", "attributes": {
                "span": name, "error": error}}, raw=raw, source=source, correlation=corr)

    @staticmethod
    def _llm_span(run: Run, data: Any, kind: str, *, raw: tuple[str, Any],
                  source: dict[str, str], corr: dict[str, Any], error: Any) -> None:
        """A generation/response span, complete at its end: started and ended together."""
        response = getattr(data, "response", None)
        usage = dict(getattr(data, "usage", None) or {})
        if not usage and response is not None and getattr(response, "usage", None) is not None:
            usage = {"input_tokens": response.usage.input_tokens,
                     "output_tokens": response.usage.output_tokens}
        model = getattr(data, "model", None) or getattr(response, "model", None)
        call_id = run.llm_started(model=model, request=getattr(data, "input", None),
                                  source=source, correlation=corr)
        output = getattr(data, "output", None)
        if output is None and response is not None:
            output = getattr(response, "output", None)
        run.llm_ended(call_id, response_model=model, output=output,
                      input_tokens=usage.get("input_tokens"),
                      output_tokens=usage.get("output_tokens"),
                      error=str(error.get("message")) if error else None, raw=raw,
                      source=source, correlation=corr)

    def shutdown(self) -> None:
        """End open runs and flush."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            run.end("stopped", "tracing shut down before the trace ended")
        self.force_flush()

    def force_flush(self) -> None:
        """Wait until the ledger has the events (durable or spooled)."""
        get_writer().flush()
