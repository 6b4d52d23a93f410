"""OpenAI Agents SDK: an agent used as a tool, with the hooks passed to `as_tool` as the docs
say. Inside `ledger.run(...)` the inner agent's model call joins that run; outside, it is an
implicit run of its own carrying the same trace id."""

from __future__ import annotations

import asyncio
from typing import Any

from agents import Agent, Runner

import ledger
from ledger.integrations.openai_agents import LedgerRunHooks

from .agents_scripted import IN, NamedPayModel, answer, propose
from .conftest import stored


class Orchestrator(NamedPayModel):
    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> Any:
        if "function_call_output" in str(input):
            return answer("outer done")
        return propose("translator", {"input": "hola"}, "call_tr")


class Translator(NamedPayModel):
    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return answer("hello")


def _agents(hooks: LedgerRunHooks) -> Agent[Any]:
    inner = Agent(name="translator_agent", model=Translator())
    return Agent(name="orchestrator", model=Orchestrator(),
                 tools=[inner.as_tool("translator", "Translate.", hooks=hooks)])


def test_agent_as_tool_inside_ledger_run_joins_it(writer, ledger_conn):
    hooks = LedgerRunHooks()

    async def main() -> Any:
        async with ledger.run(agent="orchestrator", user="ann") as run:
            result = await Runner.run(_agents(hooks), "translate hola", hooks=hooks)
        assert result.final_output == "outer done"
        return run

    run = asyncio.run(main())
    assert ledger.flush()
    events = stored(ledger_conn, run.run_id)
    assert [e.type for e in events] == [
        "run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
        "llm.call.started", "llm.call.ended", "message.output", "tool.call.ended",
        "llm.call.started", "llm.call.ended", "message.output", "run.ended"]
    assert events[-1].data.totals.llm_calls == 3
    assert events[-1].data.totals.input_tokens == 3 * IN
    assert ledger_conn.execute(
        "SELECT count(DISTINCT run_id) FROM ledger_events").fetchone()[0] == 1
