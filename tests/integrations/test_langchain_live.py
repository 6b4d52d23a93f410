"""LangGraph surfaces a stop as the graph's halt (stand-in stops at precise points).

A real StateGraph (agent node + ToolNode) with a scripted chat model; the tools are real
`@ledger.tool`s whose stand-in gate (tests/integrations/live.py) raises what the hooks raise.
Denials and holds are end to end with a real enforced pack in test_enforced_e2e.py; real stops
in test_live_e2e.py. Kept here: why `tool_errors` (a catch-all handler swallows a stop) and a
stop raised from the callback of a run the handler owns.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool as lc_tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

import ledger.hooks as hooks
from ledger.events import decode_event
from ledger.hooks.errors import RunStopped
from ledger.integrations.langchain import LedgerCallbackHandler, tool_errors

from .conftest import stored
from .live import Switch, gate

SWITCH = Switch()


@pytest.fixture(autouse=True)
def _fresh_switch() -> None:
    SWITCH.__init__()  # type: ignore[misc]


@lc_tool
@hooks.tool(name="refund", side_effect=True)
@gate(SWITCH, "refund")
def refund(order_id: str) -> str:
    """Refund an order."""
    return f"refunded {order_id}"


def _call(order_id: str, n: int) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "refund", "args": {"order_id": order_id},
                                              "id": f"tc{n}"}])


def _graph(replies: list[AIMessage], seen: list[list[Any]], *, stop_at: int | None = None,
           handle: Any = None) -> Any:
    """agent -> tools -> agent ...; `stop_at` is the model turn during which the stop lands."""
    model = GenericFakeChatModel(messages=iter(replies))

    def agent(state: MessagesState) -> dict[str, Any]:
        seen.append(list(state["messages"]))
        if stop_at is not None and len(seen) == stop_at:
            SWITCH.stopped = True
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([refund], handle_tool_errors=handle or tool_errors()))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    graph.add_edge("agent", END)
    return graph.compile()


def test_catch_all_tool_errors_without_the_ledger_handler_would_swallow_the_stop(writer):
    """Why `tool_errors`: ToolNode(handle_tool_errors=True) turns the stop into a message."""
    seen: list[list[Any]] = []
    app = _graph([_call("1", 1), AIMessage(content="done")], seen, handle=True)
    SWITCH.stopped = True
    with hooks.run(agent="lg-naive"):
        final = app.invoke({"messages": [HumanMessage("refund 1")]})
    swallowed = [m for m in final["messages"] if isinstance(m, ToolMessage)]
    assert swallowed[0].status == "error" and "RunStopped" in str(swallowed[0].content)
    assert SWITCH.bodies == [] and len(seen) == 2  # the body did not run; the model went on


class _StoppingHandler(LedgerCallbackHandler):
    """A stop at llm start in a run the handler owns (the real raise, from `run.llm_started`'s
    cache check, is end to end in test_live_e2e.py inside a `ledger.run`)."""

    def _llm_start(self, *args: Any, **kwargs: Any) -> None:
        if SWITCH.stopped:
            raise SWITCH.stop_error("llm call")
        super()._llm_start(*args, **kwargs)


def test_stop_raised_from_the_model_callback_is_not_swallowed(writer, ledger_conn):
    seen: list[list[Any]] = []
    app = _graph([_call("1", 1), AIMessage(content="never")], seen)
    SWITCH.stopped = True
    with pytest.raises(RunStopped):
        app.invoke({"messages": [HumanMessage("refund 1")]},
                   {"callbacks": [_StoppingHandler(agent="lg-owned")]})
    assert SWITCH.bodies == [] and len(seen) == 1
    writer.flush()
    rows = ledger_conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'run.ended'").fetchall()
    (end,) = [decode_event(bytes(r[0])) for r in rows]
    assert end.data.status == "stopped"  # the handler's own run ends stopped, not failed
    assert "refund storm" in end.data.error.message
    types = [e.type for e in stored(ledger_conn, end.run_id)]
    assert "error.raised" not in types and "llm.call.started" not in types
