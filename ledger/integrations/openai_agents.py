"""OpenAI Agents SDK: RunHooks for calls, a TracingProcessor for spans, approvals on the record.

* `LedgerRunHooks` (pass as `Runner.run(..., hooks=LedgerRunHooks())`) sees model calls and tool
  calls *before* they execute, in the agent's own task, so it records LLM usage and proposed tool
  calls, and records each tool's intent and (with `fail_closed=True`, the default) waits for it
  to be durable, raising `LedgerUnavailable` to stop the run rather than act unrecorded. A
  `@ledger.tool` function tool records and decides its own call (the hooks leave it alone);
  `ledger_guardrail` decides any other function tool where a denial can be the tool's output.
  One hooks object serves any number of concurrent runs (state per SDK run, never per agent:
  openai_agents_runs.py); outside `ledger.run(...)` each SDK run gets an implicit ledger run
  keyed by its trace id, which survives an interruption and a resume in another process.
* `LedgerTracingProcessor` (`add_trace_processor(...)`, keeping OpenAI's exporter) records what
  the hooks do not see: agent and guardrail spans (openai_agents_tracing.py).
* Human-in-the-loop (openai_agents_approvals.py): `record_interruptions(result)` turns
  `result.interruptions` into `approval.requested` (suspending an implicit run), and
  `approve`/`reject` wrap `RunState.approve/reject` so the decision is recorded with the
  approver's identity, bound to the call's `call_id` and args hash, in the same ledger run.
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

import uuid
import weakref
from typing import Any

from ledger.integrations import missing_extra

try:
    from agents import RunContextWrapper, RunHooks
    from agents.items import ModelResponse
    from agents.run_config import ToolErrorFormatterArgs
    from agents.tool import default_tool_error_function
except ImportError as _missing:  # the one line naming the extra, not a traceback into it
    raise missing_extra(__name__, "openai-agents", _missing) from None

from ledger.hooks.context import current_run
from ledger.hooks.errors import LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.integrations.openai_agents_approvals import approve, record_interruptions, reject
from ledger.integrations.openai_agents_calls import (
    HOOKS_SCHEMA,
    MAX_NOTED,
    SOURCE,
    AgentsRunStopped,
    guarded_calls,
    halt,
    is_ledger_tool,
    ledger_guardrail,
    params_schema,
    parse_args,
    record_intent,
)
from ledger.integrations.openai_agents_runs import (
    SdkRun,
    SdkRuns,
    claim_implicit,
    finish_implicit,
    model_name,
    trace_ids,
)
from ledger.integrations.openai_agents_tracing import LedgerTracingProcessor
from ledger.integrations.refusals import refusal_text

__all__ = ["AgentsRunStopped", "LedgerRunHooks", "LedgerTracingProcessor", "approve",
           "ledger_guardrail", "record_interruptions", "reject", "tool_error",
           "tool_error_formatter"]



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
    """Records model and tool calls of each `Runner.run` it is passed to.

    One object serves any number of concurrent runs: everything in flight is kept per SDK run
    (openai_agents_runs.py), never per agent. Inside `ledger.run(...)` (or with `run=`) the
    calls join that run; outside, each SDK run gets an implicit ledger run keyed by its trace
    id, so a run interrupted for approval resumes the same ledger run, even in a new process.
    """

    def __init__(self, run: Run | None = None, *, fail_closed: bool = True,
                 agent: str | None = None, **run_kwargs: Any) -> None:
        """`run`: record into this run; else the current `ledger.run(...)`; else an implicit
        run per SDK run, begun with `agent` (default: the SDK agent's name) and `run_kwargs`
        (`user`, `roles`, `tenant`, ... as for `ledger.run`)."""
        self._run = run
        self._fail_closed = fail_closed
        self._agent = agent
        self._run_kwargs = run_kwargs
        self._sdk = SdkRuns()

    def _entry(self, context: Any, agent: Any) -> SdkRun:
        """This SDK run's entry: the given run, the current ledger run, else its implicit run
        (held for its trace, or resumed from the ledger, or new)."""
        entry = self._sdk.get(context)
        if entry is not None and not (entry.owned and entry.run.ended):
            return entry
        if entry is not None:  # its implicit run was suspended: this is the resume
            self._sdk.pop(context)
        run = self._run or current_run()
        if run is not None:
            return self._sdk.add(context, SdkRun(run, owned=False))
        trace_id, group_id = trace_ids()
        implicit, held_by = claim_implicit(trace_id, group_id, agent=self._agent or agent.name,
                                           **self._run_kwargs)
        return self._sdk.add(context, SdkRun(implicit, owned=True, trace_id=held_by))

    def _halt_if_stopped(self, context: Any, agent: Any) -> SdkRun:
        """Raise the stop a tool of this run met (see `tool_error`); else the run's entry."""
        entry = self._entry(context, agent)
        stop = _stops.pop(entry.run.run_id, None)
        if stop is not None:
            raise halt(stop)
        return entry

    def sdk_run(self, context: Any) -> SdkRun | None:
        """The entry of the SDK run a context (or `result.context_wrapper`) belongs to."""
        return self._sdk.get(context)

    async def on_agent_start(self, context: Any, agent: Any) -> None:
        """Open (or join) the ledger run before anything of the SDK run is recorded."""
        self._halt_if_stopped(context, agent)

    async def on_llm_start(self, context: Any, agent: Any, system_prompt: str | None,
                           input_items: list[Any]) -> None:
        """Record llm.call.started; a stopped run halts here, before the model is called."""
        entry = self._halt_if_stopped(context, agent)
        entry.llm[id(agent)] = entry.run.llm_started(
            model=model_name(agent), request={"system": system_prompt, "input": input_items},
            source=SOURCE, raw=(HOOKS_SCHEMA, {"agent": agent.name}))

    async def on_llm_end(self, context: Any, agent: Any, response: ModelResponse) -> None:
        """Record usage, output items and the tool calls the model proposed."""
        entry = self._sdk.get(context)
        call_id = None if entry is None else entry.llm.pop(id(agent), None)
        if entry is None or call_id is None:
            return
        proposed = [{"id": getattr(item, "call_id", None), "name": getattr(item, "name", None),
                     "args": parse_args(getattr(item, "arguments", None))}
                    for item in response.output if getattr(item, "type", "") == "function_call"]
        usage = response.usage
        entry.run.llm_ended(
            call_id, response_model=model_name(agent), output=response.output,
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
        entry = self._halt_if_stopped(context, agent)
        if is_ledger_tool(tool):
            return
        run = entry.run
        call_id = str(getattr(context, "tool_call_id", ""))
        guarded = guarded_calls.pop((run.run_id, call_id), None)
        if guarded is None:
            guarded = await record_intent(
                run, str(tool.name), parse_args(getattr(context, "tool_arguments", None)),
                call_id or None, fail_closed=self._fail_closed,
                raw=(HOOKS_SCHEMA, {"agent": agent.name, "tool_type": type(tool).__name__}),
                args_schema=params_schema(tool))
        entry.tools[guarded.tool_call_id] = guarded

    async def on_tool_end(self, context: Any, agent: Any, tool: Any, result: object) -> None:
        """Record the tool's result."""
        entry = self._sdk.get(context)
        call = None if entry is None else entry.tools.pop(
            str(getattr(context, "tool_call_id", "")), None)
        if entry is not None and call is not None:
            entry.run.tool_ended(call, result=result, source=SOURCE)

    async def on_handoff(self, context: Any, from_agent: Any, to_agent: Any) -> None:
        """Record a handoff between agents (the one record of it: see openai_agents_tracing)."""
        entry = self._entry(context, from_agent)
        entry.run.custom("openai_agents.handoff", from_agent=from_agent.name,
                         to_agent=to_agent.name)

    async def on_agent_end(self, context: Any, agent: Any, output: Any) -> None:
        """The agent's final output is a message.output (unless a tool of the run met a stop);
        an implicit run ends here, the SDK run's last hook."""
        entry = self._halt_if_stopped(context, agent)
        entry.run.message_output(output, origin=f"agent:{agent.name}")
        if entry.owned:
            self._sdk.pop(context)
            finish_implicit(entry.trace_id, entry.run)
