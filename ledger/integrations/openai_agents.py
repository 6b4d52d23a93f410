"""OpenAI Agents SDK: RunHooks for calls, a TracingProcessor for spans, approvals on the record.

* `LedgerRunHooks` (pass as `Runner.run(..., hooks=LedgerRunHooks())`) sees model calls and tool
  calls *before* they execute, in the agent's own task, so it records LLM usage and proposed tool
  calls, and records each tool's intent and (with `fail_closed=True`, the default) waits for it
  to be durable, raising `LedgerUnavailable` to stop the run rather than act unrecorded. A
  `@ledger.tool` function tool records and decides its own call (the hooks leave it alone);
  `ledger_guardrail` decides any other function tool where a denial can be the tool's output.
* `LedgerTracingProcessor` (`add_trace_processor(...)`, keeping OpenAI's exporter) records what
  the hooks do not see: agent, handoff and guardrail spans, with `span.export()` kept in `raw`
  under `openai-agents@<version>/span_data`. Traces outside a ledger run get a run each.
* Human-in-the-loop: `record_interruptions(result)` turns `result.interruptions` into
  `approval.requested`, and `approve`/`reject` wrap `RunState.approve/reject` so the decision is
  recorded with the approver's identity, bound to the call's `call_id` and args hash.
* Live control (DESIGN §14): the SDK turns a tool's exception into text for the model (its
  default `failure_error_function`), which would swallow a stop, and wraps any other exception
  from a tool or a tool hook in `UserError`. `tool_error` (a `failure_error_function`) and
  `tool_error_formatter` (a `RunConfig.tool_error_formatter`, for tools left on the default)
  give the model a denial's rules, reasons and approval ids. A stop is re-raised as
  `AgentsRunStopped` (a `RunStopped` that is also the SDK's own `AgentsException`, which it lets
  through unwrapped), so `Runner.run` raises it; the formatter cannot raise (the SDK logs and
  drops its errors), so it notes the stop and `LedgerRunHooks` raises it before the next model
  call or tool.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterable
from importlib.metadata import version
from typing import Any

from agents import RunContextWrapper, RunHooks, TracingProcessor
from agents.items import ModelResponse, ToolApprovalItem
from agents.run_config import ToolErrorFormatterArgs
from agents.tool import default_tool_error_function
from agents.tracing import Span, Trace

from ledger.hooks.approvals import Approval, decide
from ledger.hooks.context import current_run
from ledger.hooks.errors import LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.setup import get_writer
from ledger.hooks.tools import ToolCall
from ledger.integrations.openai_agents_calls import (
    HOOKS_SCHEMA,
    MAX_NOTED,
    SOURCE,
    AgentsRunStopped,
    guarded_calls,
    halt,
    is_ledger_tool,
    ledger_guardrail,
    parse_args,
    record_intent,
)
from ledger.integrations.refusals import refusal_text
from ledger.note import Signer

__all__ = ["AgentsRunStopped", "LedgerRunHooks", "LedgerTracingProcessor", "approve",
           "ledger_guardrail", "record_interruptions", "reject", "tool_error",
           "tool_error_formatter"]

SCHEMA = f"openai-agents@{version('openai-agents')}/span_data"
_SKIP_CUSTOM = {"task", "turn"}


def _model_name(agent: Any) -> str | None:
    model = getattr(agent, "model", None)
    return model if isinstance(model, str) else getattr(model, "model", None)


# Stops the formatter saw, by ledger run, until that run's hooks raise them (the SDK logs and
# drops a formatter's exception, so it cannot halt the run itself).
_stops: dict[uuid.UUID | None, RunStopped] = {}


def _note_stop(error: RunStopped) -> None:
    """Keep a stop for the run's next hook: a copy without the traceback (no frames kept
    alive), dropped when the ledger run object goes away, and never more than MAX_NOTED
    (a run that never calls another hook must not leak)."""
    _stops[error.run_id] = RunStopped(error.run_id, error.stop, error.where)
    run = current_run()
    if run is not None and run.run_id == error.run_id:
        weakref.finalize(run, _stops.pop, error.run_id, None)
    while len(_stops) > MAX_NOTED:
        del _stops[next(iter(_stops))]


def tool_error(ctx: RunContextWrapper[Any], error: Exception) -> str:
    """`function_tool(failure_error_function=tool_error)`: ledger refusals in the model's words.

    A denial becomes the tool's output, so the model can recover; a stop is raised, unwrapped
    by the SDK, out of `Runner.run`. Other errors get the SDK's default text."""
    if isinstance(error, RunStopped):
        raise halt(error)
    if isinstance(error, LiveControl):
        return refusal_text(error)
    return default_tool_error_function(ctx, error)


def tool_error_formatter(args: ToolErrorFormatterArgs[Any]) -> str | None:
    """`RunConfig(tool_error_formatter=...)`: the same, for tools left on the SDK's default.

    A stop is noted for `LedgerRunHooks`, which raises it before anything else of the run."""
    if isinstance(args.error, RunStopped):
        _note_stop(args.error)
    return refusal_text(args.error) if isinstance(args.error, LiveControl) else None


class LedgerRunHooks(RunHooks[Any]):
    """Records model and tool calls of the current `ledger.run(...)` (or of `run=`)."""

    def __init__(self, run: Run | None = None, *, fail_closed: bool = True) -> None:
        self._run = run
        self._fail_closed = fail_closed
        self._llm: dict[int, str] = {}
        self._tools: dict[str, ToolCall] = {}

    def _current(self) -> Run | None:
        return self._run or current_run()

    def _halt_if_stopped(self) -> Run | None:
        """Raise the stop a tool of this run met (see `tool_error`); else the current run."""
        run = self._current()
        stop = _stops.pop(run.run_id if run is not None else None, None)
        if stop is not None:
            raise halt(stop)
        return run

    async def on_llm_start(self, context: Any, agent: Any, system_prompt: str | None,
                           input_items: list[Any]) -> None:
        """Record llm.call.started; a stopped run halts here, before the model is called."""
        run = self._halt_if_stopped()
        if run is not None:
            self._llm[id(agent)] = run.llm_started(
                model=_model_name(agent), request={"system": system_prompt, "input": input_items},
                source=SOURCE, raw=(HOOKS_SCHEMA, {"agent": agent.name}))

    async def on_llm_end(self, context: Any, agent: Any, response: ModelResponse) -> None:
        """Record usage, output items and the tool calls the model proposed."""
        run = self._current()
        call_id = self._llm.pop(id(agent), None)
        if run is None or call_id is None:
            return
        proposed = [{"id": getattr(item, "call_id", None), "name": getattr(item, "name", None),
                     "args": parse_args(getattr(item, "arguments", None))}
                    for item in response.output if getattr(item, "type", "") == "function_call"]
        usage = response.usage
        run.llm_ended(call_id, response_model=_model_name(agent), output=response.output,
                      input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                      total_tokens=usage.total_tokens, tool_calls=proposed, source=SOURCE,
                      raw=(HOOKS_SCHEMA, {"response_id": response.response_id}))

    async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
        """Record the tool's intent before it runs; fail closed if it cannot be made durable.

        A `@ledger.tool` function records and decides its own call (its refusal reaches the
        model through `failure_error_function=tool_error`), and a call `ledger_guardrail`
        already decided is taken over, so neither is recorded twice. Any other tool is decided
        here; a denial here cannot become the tool's output, so it aborts the run (attach
        `ledger_guardrail` to such tools for the model to read it instead)."""
        run = self._halt_if_stopped()
        if run is None or is_ledger_tool(tool):
            return
        call_id = str(getattr(context, "tool_call_id", ""))
        guarded = guarded_calls.pop((run.run_id, call_id), None)
        if guarded is None:
            guarded = await record_intent(
                run, str(tool.name), parse_args(getattr(context, "tool_arguments", None)),
                call_id or None, fail_closed=self._fail_closed,
                raw=(HOOKS_SCHEMA, {"agent": agent.name, "tool_type": type(tool).__name__}))
        self._tools[guarded.tool_call_id] = guarded

    async def on_tool_end(self, context: Any, agent: Any, tool: Any, result: object) -> None:
        """Record the tool's result."""
        run = self._current()
        call = self._tools.pop(str(getattr(context, "tool_call_id", "")), None)
        if run is not None and call is not None:
            run.tool_ended(call, result=result, source=SOURCE)

    async def on_handoff(self, context: Any, from_agent: Any, to_agent: Any) -> None:
        """Record a handoff between agents."""
        run = self._current()
        if run is not None:
            run.custom("openai_agents.handoff", from_agent=from_agent.name, to_agent=to_agent.name)

    async def on_agent_end(self, context: Any, agent: Any, output: Any) -> None:
        """The agent's final output is a message.output (unless a tool of the run met a stop)."""
        run = self._halt_if_stopped()
        if run is not None:
            run.message_output(output, origin=f"agent:{agent.name}")


class LedgerTracingProcessor(TracingProcessor):
    """Agent, handoff and guardrail spans; with `record_calls=True` also generation, response
    and function spans (use that when not also passing `LedgerRunHooks`, to avoid duplicates).
    """

    def __init__(self, *, agent: str = "openai-agents", record_calls: bool = False,
                 **run_kwargs: Any) -> None:
        self._agent = agent
        self._record_calls = record_calls
        self._run_kwargs = run_kwargs
        self._runs: dict[str, tuple[Run, bool]] = {}
        self._lock = threading.Lock()

    def _run_for(self, trace_id: str, name: str | None = None,
                 group_id: str | None = None) -> Run:
        with self._lock:
            entry = self._runs.get(trace_id)
            if entry is None:
                run = current_run()
                owned = run is None
                if run is None:
                    run = Run(agent=name or self._agent, conversation_id=group_id,
                              source={**SOURCE, "schema": SCHEMA}, **self._run_kwargs).begin()
                entry = self._runs[trace_id] = (run, owned)
            return entry[0]

    def on_trace_start(self, trace: Trace) -> None:
        """A trace outside any ledger run gets its own run."""
        self._run_for(trace.trace_id, trace.name, getattr(trace, "group_id", None))

    def on_trace_end(self, trace: Trace) -> None:
        """End the run this processor started for the trace."""
        with self._lock:
            entry = self._runs.pop(trace.trace_id, None)
        if entry is not None and entry[1]:
            entry[0].end("succeeded")

    def on_span_start(self, span: Span[Any]) -> None:
        """Nothing: the hooks record intents; spans are recorded complete at their end."""

    def on_span_end(self, span: Span[Any]) -> None:
        """Map the finished span to an event, keeping `span.export()` in raw."""
        try:
            self._on_span_end(span)
        except Exception:  # never break the agent run
            return

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
        for run, owned in runs:
            if owned:
                run.end("stopped", "tracing shut down before the trace ended")
        self.force_flush()

    def force_flush(self) -> None:
        """Wait until the ledger has the events (durable or spooled)."""
        get_writer().flush()


_approvals: dict[str, Approval] = {}


def record_interruptions(result: Any, run: Run | None = None,
                         reason: str | None = "tool requires approval") -> list[Approval]:
    """Record approval.requested for each `ToolApprovalItem` in `result.interruptions`."""
    target = run or current_run()
    if target is None:
        raise RuntimeError("record_interruptions needs an active ledger.run(...) or run=")
    out = []
    for item in getattr(result, "interruptions", ()) or ():
        if not isinstance(item, ToolApprovalItem):
            continue
        call = {"name": item.name or item.tool_name, "args": parse_args(item.arguments),
                "id": item.call_id}
        approval = target.request_approval(call, reason=reason, source=SOURCE,
                                           raw=(HOOKS_SCHEMA, {"call_id": item.call_id,
                                                               "arguments": item.arguments}))
        _approvals[str(item.call_id)] = approval
        out.append(approval)
    return out


def approve(state: Any, item: ToolApprovalItem, *, approver: str, roles: Iterable[str] = (),
            always: bool = False, reason: str | None = None,
            signer: Signer | None = None) -> None:
    """Record approval.decided (approved) as `approver`, then `state.approve(item)`.

    With `signer` (the approver's key) the decision is signed (see `ledger.decide`)."""
    approval = _approvals.pop(str(item.call_id), None)
    if approval is not None:
        decide(approval, approver=approver, roles=roles, decision="approved", reason=reason,
               source=SOURCE, signer=signer)
    state.approve(item, always_approve=always)


def reject(state: Any, item: ToolApprovalItem, *, approver: str, roles: Iterable[str] = (),
           message: str | None = None, always: bool = False,
           signer: Signer | None = None) -> None:
    """Record approval.decided (rejected) as `approver`, then `state.reject(item)`."""
    approval = _approvals.pop(str(item.call_id), None)
    if approval is not None:
        decide(approval, approver=approver, roles=roles, decision="rejected", reason=message,
               source=SOURCE, signer=signer)
    state.reject(item, always_reject=always, rejection_message=message)
