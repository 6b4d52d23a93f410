"""End to end: a real stop (ledger.stops.request_stop on the operator's connection, sequenced)
halts each framework through the hooks' own raise (s16-hooks), not a stand-in.

The stop is recorded while the run is live (during a scripted model turn or a tool body); the
next tool's intent acknowledgement carries the live version, so the hooks refuse the body, and
the integration turns that into the framework's halt. Bodies are counted; run.ended must say
`stopped` and name the stop event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from agents import Agent, Runner, function_tool
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool as lc_tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from mcp import Client
from mcp.server import MCPServer

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.hooks.errors import RunStopped
from ledger.integrations.langchain import LedgerCallbackHandler, tool_errors
from ledger.integrations.mcp import LedgerMCPSession
from ledger.integrations.openai_agents import AgentsRunStopped, LedgerRunHooks, tool_error
from ledger.stops import request_stop

from .conftest import stored
from .test_openai_agents_live import ScriptedModel

BODIES: list[str] = []
STOPS: list[Any] = []


@pytest.fixture(autouse=True)
def _fresh() -> None:
    BODIES.clear()
    STOPS.clear()


def _stop(settings: Settings) -> None:
    """The operator stops the current run from its own connection (as `ledger stop` does)."""
    run = hooks.current_run()
    assert run is not None
    run.flush()
    with connect(settings) as conn:
        _wait(lambda: conn.execute("SELECT 1 FROM ledger_events WHERE run_id = %s LIMIT 1",
                                   (run.run_id,)).fetchone(), "the run in the log")
        STOPS.append(request_stop(conn, settings, target=f"run:{run.run_id}",
                                  reason="refund storm", requested_by="oncall"))


def _wait(check: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _assert_stopped(conn: Any, run_id: Any) -> list[Any]:
    events = stored(conn, run_id)
    end = events[-1]
    assert end.type == "run.ended" and end.data.status == "stopped"
    assert end.data.stopped_by.requested_by == "oncall"
    assert end.data.stopped_by.stop_event_id == STOPS[0].event_id
    return events


@lc_tool
@hooks.tool(name="refund", side_effect=True)
def refund(order_id: str) -> str:
    """Refund an order."""
    BODIES.append(order_id)
    return f"refunded {order_id}"


def _graph(settings: Settings, stop_in: str) -> Any:
    calls = [AIMessage(content="", tool_calls=[{"name": "refund", "args": {"order_id": str(n)},
                                                "id": f"tc{n}"}]) for n in (1, 2)]
    model = GenericFakeChatModel(messages=iter([*calls, AIMessage(content="done")]))
    turns: list[int] = []

    def agent(state: MessagesState) -> dict[str, Any]:
        turns.append(1)
        reply = model.invoke(state["messages"])
        if stop_in == "model" and len(turns) == 2:  # stopped while the reply is in flight
            _stop(settings)
        return {"messages": [reply]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([refund], handle_tool_errors=tool_errors(True)))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile()


def test_langgraph_halts_on_a_real_stop(writer, ledger_conn, ledger_settings):
    for way in ("invoke", "ainvoke"):  # the sync and the async graph paths, one writer
        BODIES.clear()
        STOPS.clear()
        app = _graph(ledger_settings, stop_in="model")
        inputs: Any = {"messages": [HumanMessage("refund 1, 2")]}
        config: Any = {"callbacks": [LedgerCallbackHandler()]}
        with pytest.raises(RunStopped), hooks.run(agent="lg-e2e") as run:
            if way == "invoke":
                app.invoke(inputs, config)
            else:
                asyncio.run(app.ainvoke(inputs, config))
        assert BODIES == ["1"]
        writer.flush()
        events = _assert_stopped(ledger_conn, run.run_id)
        statuses = [e.data.status for e in events if e.type == "tool.call.ended"]
        # `refund` is a @ledger.tool: its wrapper records each call once (the callback handler
        # leaves it to the wrapper), so one ok call, then the decorator's one refusal
        assert statuses == ["ok", "refused"]


def test_langgraph_model_callback_halts_on_a_real_stop(writer, ledger_conn, ledger_settings):
    """The stop lands in a tool body; the next model call's callback raises it (cache)."""

    @lc_tool
    def lookup(order_id: str) -> str:
        """Look an order up (read only), while the operator stops the run."""
        _stop(ledger_settings)
        run = hooks.current_run()
        _wait(lambda: run is not None and writer.live.find(run) is not None, "the stop cached")
        return "shipped"

    model = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=[
        {"name": "lookup", "args": {"order_id": "1"}, "id": "tc1"}]), AIMessage(content="x")]))
    graph = StateGraph(MessagesState)
    graph.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
    graph.add_node("tools", ToolNode([lookup]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    with pytest.raises(RunStopped, match="before llm call"), hooks.run(agent="lg-cb") as run:
        graph.compile().invoke({"messages": [HumanMessage("where is 1")]},
                               {"callbacks": [LedgerCallbackHandler()]})
    writer.flush()
    events = _assert_stopped(ledger_conn, run.run_id)
    assert sum(e.type == "llm.call.started" for e in events) == 1


def test_openai_agents_halts_on_a_real_stop(writer, ledger_conn, ledger_settings):
    @hooks.tool(name="wire", side_effect=True)
    def wire(to: str) -> str:
        """Wire money."""
        BODIES.append(to)
        return "ok"

    class StoppingModel(ScriptedModel):
        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            if len(self.inputs) == 1:  # turn 2: the operator stops the run meanwhile
                _stop(ledger_settings)
            return await super().get_response(*args, **kwargs)

    runs: list[Any] = []

    async def main() -> None:
        agent = Agent(name="payer", model=StoppingModel(calls=3), tools=[
            function_tool(wire, failure_error_function=tool_error)])
        async with hooks.run(agent="oa-e2e") as run:
            runs.append(run)
            await Runner.run(agent, "pay", hooks=LedgerRunHooks())

    with pytest.raises(AgentsRunStopped):  # the SDK's own exception type: not wrapped
        asyncio.run(main())
    assert BODIES == ["acct-1"]
    writer.flush()
    _assert_stopped(ledger_conn, runs[0].run_id)


def test_mcp_call_tool_refused_on_a_real_stop(writer, ledger_conn, ledger_settings):
    server = MCPServer("crm")

    @server.tool()
    def close_ticket(ticket_id: str) -> str:
        """Close a ticket."""
        BODIES.append(ticket_id)
        return "closed"

    runs: list[Any] = []

    async def main() -> None:
        async with Client(server) as client, hooks.run(agent="mcp-e2e") as run:
            runs.append(run)
            session = LedgerMCPSession(client.session, server="crm")
            await session.call_tool("close_ticket", {"ticket_id": "T-1"})
            _stop(ledger_settings)
            await session.call_tool("close_ticket", {"ticket_id": "T-2"})

    caught: list[BaseException] = []
    try:
        asyncio.run(main())
    except* RunStopped as group:  # mcp.Client's task groups wrap what leaves its block
        caught.append(group)
    assert caught and BODIES == ["T-1"]  # the second request never reached the server
    writer.flush()
    events = _assert_stopped(ledger_conn, runs[0].run_id)
    assert [e.data.status for e in events if e.type == "tool.call.ended"] == ["ok", "refused"]
