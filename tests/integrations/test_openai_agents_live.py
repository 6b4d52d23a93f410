"""OpenAI Agents SDK: a stop aborts `Runner.run` with RunStopped (stand-in stops).

A real Agent and Runner with a scripted Model; the tools are real `@ledger.tool`s whose
stand-in gate (tests/integrations/live.py) raises what the hooks raise. Denials and holds are
end to end with a real enforced pack in test_enforced_e2e.py; a real stop through
failure_error_function in test_live_e2e.py. Kept here: the formatter path's stop at a precise
turn and why `tool_error` (the SDK's default handler swallows a stop).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import Agent, FunctionTool, RunConfig, Runner, function_tool
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

import ledger.hooks as hooks
from ledger.hooks.errors import RunStopped
from ledger.integrations.openai_agents import (
    AgentsRunStopped,
    LedgerRunHooks,
    tool_error,
    tool_error_formatter,
)

from .conftest import stored
from .live import Switch, gate

SWITCH = Switch()


@pytest.fixture(autouse=True)
def _fresh_switch() -> None:
    SWITCH.__init__()  # type: ignore[misc]


class ScriptedModel(Model):
    """Proposes `wire` `calls` times, then answers; the stop lands during turn `stop_at`."""

    model = "gpt-4o-mini"

    def __init__(self, calls: int, stop_at: int | None = None) -> None:
        self.calls = calls
        self.stop_at = stop_at
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        self.inputs.append(input)
        turn = len(self.inputs)
        if turn == self.stop_at:
            SWITCH.stopped = True
        out: list[Any]
        if turn <= self.calls:
            out = [ResponseFunctionToolCall(
                type="function_call", name="wire", arguments=f'{{"to":"acct-{turn}"}}',
                call_id=f"call_{turn}", id=f"fc_{turn}", status="completed")]
        else:
            out = [ResponseOutputMessage(
                id="m1", type="message", role="assistant", status="completed",
                content=[ResponseOutputText(type="output_text", text="done", annotations=[])])]
        return ModelResponse(output=out, response_id=None, usage=Usage(
            requests=1, input_tokens=10, output_tokens=2, total_tokens=12))

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@hooks.tool(name="wire", side_effect=True)
@gate(SWITCH, "wire")
def _wire(to: str) -> str:
    """Wire money to an account."""
    return f"wired {to}"


def _tool(way: str) -> FunctionTool:
    if way == "failure_error_function":
        return function_tool(_wire, name_override="wire", failure_error_function=tool_error)
    return function_tool(_wire, name_override="wire")


def _run(model: ScriptedModel, way: str) -> Any:
    config = RunConfig(tool_error_formatter=tool_error_formatter) if way == "formatter" else None

    runs: list[Any] = []

    async def main() -> Any:
        agent = Agent(name="payer", tools=[_tool(way)], model=model)
        async with hooks.run(agent="payer") as run:
            runs.append(run)
            return await Runner.run(agent, "pay", hooks=LedgerRunHooks(), run_config=config)

    try:
        return runs, asyncio.run(main())
    except RunStopped as exc:  # raised out of Runner.run, through the ledger.run block
        return runs, exc


def test_formatter_stop_aborts_the_run_before_the_next_model_call(writer, ledger_conn):
    """The formatter cannot raise; LedgerRunHooks raises the stop it noted (stand-in stop:
    the failure_error_function path is end to end in test_live_e2e.py)."""
    model = ScriptedModel(calls=3, stop_at=2)
    (run,), outcome = _run(model, "formatter")
    assert isinstance(outcome, AgentsRunStopped) and outcome.run_id == run.run_id
    assert "refund storm" in str(outcome)
    assert SWITCH.bodies == ["wire"]  # the second body never ran
    assert len(model.inputs) == 2  # the model was not called after the stop
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert sum(e.type == "llm.call.started" for e in events) == 2
    # `ledger.run` ends a run left by RunStopped `stopped`, saying who stopped it (s16-hooks)
    assert events[-1].type == "run.ended" and events[-1].data.status == "stopped"
    assert events[-1].data.stopped_by.requested_by == "oncall"


def test_without_the_ledger_error_handlers_the_sdk_swallows_the_stop(writer):
    """Why `tool_error`: the SDK's default handler hands the model a generic error instead."""
    model = ScriptedModel(calls=1)
    SWITCH.stopped = True
    _, outcome = _run(model, "default")
    assert outcome.final_output == "done" and SWITCH.bodies == []
    assert "An error occurred while running the tool" in str(model.inputs[1])
