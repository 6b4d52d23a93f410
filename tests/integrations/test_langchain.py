"""LangChain handler with real langchain-core fake models and a real LangGraph StateGraph."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool as lc_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

import ledger.hooks as hooks
from ledger.events import args_hash
from ledger.integrations.langchain import LedgerCallbackHandler

from .conftest import stored


@lc_tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}: shipped"


def test_model_and_tool_callbacks(writer, ledger_conn):
    model = GenericFakeChatModel(messages=iter([AIMessage(
        content="", tool_calls=[{"name": "lookup", "args": {"order_id": "7"}, "id": "tc1"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 3, "total_tokens": 15},
        response_metadata={"model_name": "gpt-4o-mini"})]))
    handler = LedgerCallbackHandler()
    with hooks.run(agent="lc", user="alice") as run:
        reply = model.invoke([HumanMessage("where is order 7?")], config={"callbacks": [handler]})
        lookup.invoke(reply.tool_calls[0]["args"], config={"callbacks": [handler]})
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    types = [e.type for e in events]
    assert types == ["run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
                     "tool.call.ended", "run.ended"]
    end = events[2]
    assert end.data.usage.input_tokens == 12 and end.data.cost is not None
    assert end.data.proposed_tool_calls[0].name == "lookup"
    assert end.source.integration == "langchain" and end.raw.schema_.startswith("langchain-core@")
    assert events[3].data.tool == "lookup" and events[3].data.args == {"order_id": "7"}
    assert events[4].data.result == "order 7: shipped"


class State(TypedDict, total=False):
    to: str
    sent: str


def test_langgraph_interrupt_and_resume_are_approvals(writer, ledger_conn):
    def propose(state: State) -> State:
        decision: Any = interrupt({"name": "send_email", "args": {"to": state["to"]}})
        if decision.get("type") == "reject":
            return {"sent": "no"}
        return {"sent": f"yes to {decision.get('args', {}).get('to', state['to'])}"}

    graph = StateGraph(State)
    graph.add_node("propose", propose)
    graph.add_edge(START, "propose")
    graph.add_edge("propose", END)
    app = graph.compile(checkpointer=InMemorySaver())
    handler = LedgerCallbackHandler()
    config: Any = {"configurable": {"thread_id": "t1"}, "callbacks": [handler]}
    with hooks.run(agent="graph", user="alice") as run:
        first = app.invoke({"to": "bob@acme.com"}, config)
        assert "__interrupt__" in first
        assert len(handler.pending) == 1
        command = handler.resume({"type": "edit", "args": {"to": "carol@acme.com"}},
                                 approver="dave", roles=["supervisor"])
        assert isinstance(command, Command)
        final = app.invoke(command, config)
        assert final["sent"] == "yes to carol@acme.com"
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    types = [e.type for e in events]
    assert "error.raised" not in types
    req = next(e for e in events if e.type == "approval.requested")
    dec = next(e for e in events if e.type == "approval.decided")
    assert req.data.tool == "send_email" and req.data.args_hash == args_hash({"to": "bob@acme.com"})
    assert dec.data.approval_id == req.data.approval_id
    assert dec.data.decision == "edited" and dec.data.approver.id == "dave"
    assert dec.data.edited_args_hash == args_hash({"to": "carol@acme.com"})


def test_resume_via_metadata_and_owned_runs(writer, ledger_conn):
    def gate(state: State) -> State:
        ok = interrupt({"tool": "wire", "args": {"amount": "10"}})
        return {"sent": "yes" if ok else "no"}

    graph = StateGraph(State)
    graph.add_node("gate", gate)
    graph.add_edge(START, "gate")
    graph.add_edge("gate", END)
    app = graph.compile(checkpointer=InMemorySaver())
    handler = LedgerCallbackHandler(agent="owned-graph")
    config: Any = {"configurable": {"thread_id": "t2"}, "callbacks": [handler],
                   "metadata": {"ledger_approver": "erin", "ledger_approver_roles": ["ops"]}}
    app.invoke({"to": "x"}, config)
    assert app.invoke(Command(resume=False), config)["sent"] == "no"
    writer.flush()
    rows = ledger_conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'approval.decided'").fetchall()
    assert len(rows) == 1
    from ledger.events import decode_event

    dec = decode_event(bytes(rows[0][0]))
    assert dec.data.decision == "rejected" and dec.data.approver.id == "erin"
    ends = [decode_event(bytes(r[0])) for r in ledger_conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'run.ended'").fetchall()]
    assert [e.data.status for e in ends] == ["succeeded"]  # interrupt and resume: one run
    types = [e.type for e in stored(ledger_conn, ends[0].run_id)]
    assert types.count("run.suspended") == types.count("run.resumed") == 1


@lc_tool
@hooks.tool(name="refund", side_effect=True)
def refund_tool(order_id: str) -> str:
    """Refund an order (fail closed through the ledger decorator)."""
    return f"refunded {order_id}"


def test_stacked_decorators_give_langchain_tools_fail_closed(writer, flaky, ledger_conn):
    assert refund_tool.name == "refund_tool" and "order_id" in refund_tool.args
    with hooks.run(agent="lc") as run:
        assert refund_tool.invoke({"order_id": "1"}) == "refunded 1"
        flaky.go_down()
        try:
            refund_tool.invoke({"order_id": "2"})
            raise AssertionError("should have failed closed")
        except hooks.LedgerUnavailable:
            pass
        flaky.come_back()
    assert writer.flush()
    starts = [e for e in stored(ledger_conn, run.run_id) if e.type == "tool.call.started"]
    assert [e.data.args for e in starts] == [{"order_id": "1"}, {"order_id": "2"}]
