"""OpenAI Agents SDK: how one tool call is decided and recorded (used by openai_agents.py).

One call, one record, one decision (DESIGN §14): a FunctionTool made from a `@ledger.tool`
function is decided by its wrapper, so the run hooks leave it alone; any other function tool is
decided by `ledger_guardrail` (a tool input guardrail: the one place before the body where the
SDK lets a refusal become the tool's output, `reject_content`), or failing that by the hooks'
`on_tool_start`, where a denial can only abort the run. A stop always aborts the run, raised as
`AgentsRunStopped` (a `RunStopped` that is the SDK's own `AgentsException`, so never wrapped).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

from agents.exceptions import AgentsException
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
)

from ledger.hooks.context import current_run
from ledger.hooks.errors import LedgerUnavailable, LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.tools import LEDGER_TOOL, ToolCall, acknowledged
from ledger.hooks.toolschema import ToolSchema, cached_schema
from ledger.integrations.refusals import refusal_text

__all__ = ["HOOKS_SCHEMA", "MAX_NOTED", "SOURCE", "AgentsRunStopped", "guarded_calls", "halt",
           "is_ledger_tool", "ledger_guardrail", "parse_args", "record_intent"]

HOOKS_SCHEMA = f"openai-agents@{version('openai-agents')}/run_hooks"
SOURCE = {"framework": "openai-agents", "integration": "openai_agents", "schema": HOOKS_SCHEMA}
MAX_NOTED = 256  # calls or stops kept for a later hook, at most


def parse_args(text: Any) -> Any:
    """The SDK hands arguments as JSON text; record them as data (as given when not JSON)."""
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class AgentsRunStopped(RunStopped, AgentsException):
    """A `RunStopped` the SDK re-raises as it is (it wraps foreign exceptions in `UserError`)."""


def halt(stop: RunStopped) -> AgentsRunStopped:
    if isinstance(stop, AgentsRunStopped):
        return stop
    halted = AgentsRunStopped(stop.run_id, stop.stop, stop.where)
    halted.__cause__ = stop
    return halted


def is_ledger_tool(tool: Any) -> bool:
    """A FunctionTool made from a `@ledger.tool` function (the SDK keeps it as `__wrapped__`)."""
    return getattr(getattr(tool, "__wrapped__", None), LEDGER_TOOL, None) is not None


def params_schema(tool: Any) -> ToolSchema | None:
    """A `FunctionTool`'s `params_json_schema` in recordable form, built once per tool object
    (docs/hooks.md "Tool schemas"); None for a tool without one (a hosted tool)."""
    if not isinstance(getattr(tool, "params_json_schema", None), Mapping):
        return None
    return cached_schema(tool, lambda t: t.params_json_schema)


def agent_tool(agent: Any, name: str) -> Any:
    """The agent's tool of this name (a guardrail is given the name, not the tool)."""
    return next((t for t in getattr(agent, "tools", None) or ()
                 if getattr(t, "name", None) == name), None)


async def record_intent(run: Run, tool: str, args: Any, call_id: str | None, *,
                         fail_closed: bool, raw: tuple[str, Any],
                         args_schema: ToolSchema | None = None) -> ToolCall:
    """Record a tool's intent (decided first under a pack) and, failing closed, wait for it.

    Fail open is about an unreachable database only: a known stop still halts (checked in the
    cache, no round trip). A stop is raised as `AgentsRunStopped`; a denial or a hold as is."""
    try:
        call = run.tool_started(tool, args, tool_call_id=call_id, wait=fail_closed,
                                require_db=fail_closed, source=SOURCE, raw=raw,
                                args_schema=args_schema)
    except RunStopped as exc:  # recorded as the call's refusal
        raise halt(exc) from None
    if not fail_closed or call.ack is None:
        return call
    try:
        await acknowledged(call)
    except RunStopped as exc:  # refused at the ack; the gate recorded the refusal
        raise halt(exc) from None
    except LiveControl:
        raise
    except Exception:
        refusal = LedgerUnavailable(f"the intent of tool {tool!r} could not be recorded; "
                                    "stopping the run instead of running it")
        run.tool_ended(call, status="error", error=refusal, source=SOURCE)
        raise refusal from None
    return call


# Calls `ledger_guardrail` recorded, by (ledger run, call_id), until LedgerRunHooks takes them
guarded_calls: dict[tuple[uuid.UUID, str], ToolCall] = {}


async def _guard(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
    """Decide an undecorated tool's call where the SDK lets a refusal be the tool's output."""
    run = current_run()
    ctx = data.context
    if run is None:
        return ToolGuardrailFunctionOutput.allow()
    try:
        call = await record_intent(
            run, str(ctx.tool_name), parse_args(ctx.tool_arguments), ctx.tool_call_id,
            fail_closed=True, raw=(HOOKS_SCHEMA, {"agent": data.agent.name,
                                                  "tool_type": "FunctionTool"}),
            args_schema=params_schema(agent_tool(data.agent, str(ctx.tool_name))))
    except LiveControl as exc:
        if isinstance(exc, RunStopped):
            raise
        return ToolGuardrailFunctionOutput.reject_content(refusal_text(exc))
    guarded_calls[(run.run_id, str(ctx.tool_call_id))] = call
    while len(guarded_calls) > MAX_NOTED:  # used without LedgerRunHooks: never grow unbounded
        del guarded_calls[next(iter(guarded_calls))]
    return ToolGuardrailFunctionOutput.allow()


ledger_guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(_guard, name="ledger")
"""`function_tool(..., tool_input_guardrails=[ledger_guardrail])` for a tool that is not a
`@ledger.tool`: its call is decided (and its intent acknowledged) before it runs, a denial or a
hold becomes the tool's output for the model, and a stop aborts the run (`AgentsRunStopped`).
Use it with `LedgerRunHooks`, which records the call's outcome."""


