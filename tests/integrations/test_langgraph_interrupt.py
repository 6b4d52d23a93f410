"""An `interrupt()` inside a tool, written from the docs: `create_agent`, a scripted model, the
ledger handler. The approval carries the model's tool call id, so the approved and executed
refund is joined to its decision and `ledger check` finds no "executed without an approval"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import interrupt

import ledger
from ledger.events import args_hash
from ledger.integrations.langchain import LedgerCallbackHandler

from .conftest import stored
from .langgraph_kit import ScriptedChat, refund_script

PACK = """\
policy: {id: lg-approvals, version: "1"}
max_tool_calls: 4
policies:
  require_approval_for:
    - {action: refund, any: true}
"""
BODIES: list[str] = []


@tool
@ledger.tool(name="refund")
def refund(order_id: str, amount_usd: int) -> str:
    """Refund an order; a person approves it first."""
    if not interrupt({"question": f"refund {amount_usd} USD on order {order_id}?"}):
        return "not refunded"
    BODIES.append(order_id)
    return f"refunded {order_id}"


@tool("refund")
def plain_refund(order_id: str, amount_usd: int) -> str:
    """Refund an order; a person approves it first (recorded by the handler alone)."""
    if not interrupt(f"refund {amount_usd} USD on order {order_id}?"):
        return "not refunded"
    BODIES.append(order_id)
    return f"refunded {order_id}"


def verdicts(cli: Any, tmp_path: Path, run_id: Any) -> dict[str, tuple[str, str]]:
    """rule id -> (outcome, explanation) of the real `ledger check` for one run."""
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    res = cli("check", "--policy", str(pack), "--run", str(run_id), "--json")
    assert res.stdout, res.stderr
    (run,) = json.loads(res.stdout)["runs"]
    return {v["rule_id"]: (v["outcome"], v.get("explanation", "")) for v in run["verdicts"]}


@pytest.mark.parametrize("refund_tool", [refund, plain_refund], ids=["ledger-tool", "plain"])
def test_interrupt_in_tool_is_approved_under_the_models_call_id(
        writer, ledger_conn, cli, tmp_path, refund_tool):
    BODIES.clear()
    agent = create_agent(ScriptedChat(script=refund_script()), [refund_tool],
                         checkpointer=InMemorySaver())
    handler = LedgerCallbackHandler()
    config: Any = {"configurable": {"thread_id": "t-7"}, "callbacks": [handler]}
    with ledger.run(agent="lg-refunds", user="alice") as run:
        first = agent.invoke({"messages": [HumanMessage("refund order 7")]}, config)
        assert [i.id for i in first["__interrupt__"]] == list(handler.pending)
        command = handler.resume(True, approver="bob", roles=["finance"], thread_id="t-7")
        final = agent.invoke(command, config)
    assert final["messages"][-1].content == "done: refunded 7" and BODIES == ["7"]
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert [e.type for e in events] == [
        "run.started", "llm.call.started", "llm.call.ended",
        "tool.call.started", "approval.requested", "tool.call.ended",  # paused for approval
        "approval.decided", "tool.call.started", "tool.call.ended",
        "llm.call.started", "llm.call.ended", "run.ended"] if refund_tool is plain_refund else [
        "run.started", "llm.call.started", "llm.call.ended",
        "tool.call.started", "tool.call.ended", "approval.requested",  # wrapper ends first
        "approval.decided", "tool.call.started", "tool.call.ended",
        "llm.call.started", "llm.call.ended", "run.ended"]
    assert {e.principal.initiating_user for e in events} == {"alice"}
    args = {"order_id": "7", "amount_usd": 150}
    calls = [e.data for e in events if e.type.startswith(("tool.call", "approval"))]
    assert {c.tool_call_id for c in calls} == {"7-0"}  # the model's ToolCall id, everywhere
    req = next(e.data for e in events if e.type == "approval.requested")
    dec = next(e.data for e in events if e.type == "approval.decided")
    assert (req.tool, req.args_hash) == ("refund", args_hash(args))
    assert req.approval_id == first["__interrupt__"][0].id == dec.approval_id
    assert (dec.decision, dec.approver.id, dec.approver.roles) == ("approved", "bob", ("finance",))
    ends = [e.data.status for e in events if e.type == "tool.call.ended"]
    assert ends == ["cancelled" if refund_tool is plain_refund else "error", "ok"]
    llm = [e.data for e in events if e.type == "llm.call.ended"]
    assert [(u.usage.input_tokens, u.usage.output_tokens) for u in llm] == [(120, 30)] * 2
    assert all(u.cost is not None for u in llm) and events[-1].data.status == "succeeded"
    found = verdicts(cli, tmp_path, run.run_id)
    approvals = {k: v for k, v in found.items() if "approval" in k}
    assert approvals and all(o == "pass" for o, _ in approvals.values()), found
    assert found["max_tool_calls"][0] == "pass", found
