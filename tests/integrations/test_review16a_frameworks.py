"""Hostile review r16a: a LangGraph tool that is not an `@ledger.tool` after a real stop.

The README path: `config={"callbacks": [LedgerCallbackHandler()]}` on a graph of ordinary
LangChain tools. The handler sees every tool start; once this process knows the run is stopped
(the stop is in its cache), the next tool body must not run and the graph must halt.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool as lc_tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

import ledger.hooks as hooks
from ledger.hooks.errors import RunStopped
from ledger.integrations.langchain import LedgerCallbackHandler, tool_errors

from .test_live_e2e import BODIES, _fresh, _stop, _wait  # noqa: F401


@lc_tool
def refund(order_id: str) -> str:
    """Refund an order (an ordinary LangChain tool)."""
    BODIES.append(order_id)
    return f"refunded {order_id}"


def test_langgraph_plain_tool_does_not_run_after_a_real_stop(writer, ledger_settings):
    calls = [AIMessage(content="", tool_calls=[{"name": "refund", "args": {"order_id": str(n)},
                                                "id": f"tc{n}"}]) for n in (1, 2)]
    model = GenericFakeChatModel(messages=iter([*calls, AIMessage(content="done")]))
    turns: list[int] = []

    def agent(state: MessagesState) -> dict[str, Any]:
        turns.append(1)
        reply = model.invoke(state["messages"])
        if len(turns) == 2:  # the operator stops the run while the reply is in flight
            _stop(ledger_settings)
            run = hooks.current_run()
            _wait(lambda: run is not None and writer.live.find(run) is not None, "cached")
        return {"messages": [reply]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([refund], handle_tool_errors=tool_errors(True)))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    app = graph.compile()
    with pytest.raises(RunStopped), hooks.run(agent="lg-plain"):
        app.invoke({"messages": [HumanMessage("refund 1, 2")]},
                   {"callbacks": [LedgerCallbackHandler()]})
    assert BODIES == ["1"]  # the refund after the stop never ran


def test_openai_agents_fail_open_hooks_still_obey_a_known_stop(writer, ledger_settings):
    """`LedgerRunHooks(fail_closed=False)` is about an unreachable database; with the database
    up and the stop already in this process's cache, a plain function tool must not run."""
    import asyncio

    from agents import Agent, Runner, function_tool

    from ledger.integrations.openai_agents import LedgerRunHooks, tool_error

    from .test_openai_agents_live import ScriptedModel

    def wire(to: str) -> str:
        """Wire money (an ordinary SDK function tool)."""
        BODIES.append(to)
        return "ok"

    class StoppingModel(ScriptedModel):
        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            if len(self.inputs) == 1:  # turn 2: the operator stops the run meanwhile
                _stop(ledger_settings)
                run = hooks.current_run()
                _wait(lambda: run is not None and writer.live.find(run) is not None, "cached")
            return await super().get_response(*args, **kwargs)

    async def main() -> None:
        agent = Agent(name="payer", model=StoppingModel(calls=3), tools=[
            function_tool(wire, failure_error_function=tool_error)])
        async with hooks.run(agent="oa-open"):
            await Runner.run(agent, "pay", hooks=LedgerRunHooks(fail_closed=False))

    with pytest.raises(RunStopped):
        asyncio.run(main())
    assert BODIES == ["acct-1"]


def test_openai_agents_ledger_guardrail_aborts_the_run_on_a_real_stop(writer, ledger_settings):
    """A plain function tool with `ledger_guardrail`: a denial becomes the tool's output, but a
    stop must not: the guardrail raises `AgentsRunStopped` and `Runner.run` aborts with it."""
    import asyncio

    from agents import Agent, Runner, function_tool

    from ledger.integrations.openai_agents import AgentsRunStopped, LedgerRunHooks, ledger_guardrail

    from .test_openai_agents_live import ScriptedModel

    def wire(to: str) -> str:
        """Wire money (an ordinary SDK function tool)."""
        BODIES.append(to)
        return "ok"

    class StoppingModel(ScriptedModel):
        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            if len(self.inputs) == 1:  # turn 2: the operator stops the run meanwhile
                _stop(ledger_settings)
                run = hooks.current_run()
                _wait(lambda: run is not None and writer.live.find(run) is not None, "cached")
            return await super().get_response(*args, **kwargs)

    async def main() -> None:
        agent = Agent(name="payer", model=StoppingModel(calls=3), tools=[
            function_tool(wire, tool_input_guardrails=[ledger_guardrail])])
        async with hooks.run(agent="oa-guarded"):
            await Runner.run(agent, "pay", hooks=LedgerRunHooks())

    with pytest.raises(AgentsRunStopped):
        asyncio.run(main())
    assert BODIES == ["acct-1"]
