"""Each tool call of a LangGraph agent is recorded once, whoever records it: a `@tool` stacked
over `@ledger.tool` (as the docs advise) records itself, a plain `@tool` is recorded by the
handler. Three proposed calls are three `tool.call.started`, under the model's call ids, and a
`max_tool_calls` policy counts them right."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

import ledger
from ledger.integrations.langchain import LedgerCallbackHandler

from .conftest import stored
from .langgraph_kit import ScriptedChat, refund_script


@tool
@ledger.tool(name="refund")
def refund(order_id: str, amount_usd: int) -> str:
    """Refund an order."""
    return f"refunded {amount_usd}"


@tool("refund")
def plain_refund(order_id: str, amount_usd: int) -> str:
    """Refund an order (no ledger decorator)."""
    return f"refunded {amount_usd}"


def check(cli: Any, tmp_path: Path, run_id: Any, limit: int) -> tuple[str, str]:
    """(outcome, explanation) of `max_tool_calls` from the real `ledger check`."""
    pack = tmp_path / f"pack{limit}.yaml"
    pack.write_text(f'policy: {{id: lg-count, version: "1"}}\nmax_tool_calls: {limit}\n')
    res = cli("check", "--policy", str(pack), "--run", str(run_id), "--json")
    (run,) = json.loads(res.stdout)["runs"]
    (verdict,) = [v for v in run["verdicts"] if v["rule_id"] == "max_tool_calls"]
    return verdict["outcome"], verdict.get("explanation", "")


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("refund_tool", [refund, plain_refund], ids=["stacked", "plain"])
def test_three_calls_are_three(writer, ledger_conn, cli, tmp_path, refund_tool, mode):
    agent = create_agent(ScriptedChat(script=refund_script(calls=3)), [refund_tool])
    config: Any = {"callbacks": [LedgerCallbackHandler()]}
    request = {"messages": [HumanMessage("refund order 7")]}
    with ledger.run(agent="lg-count", user="carol") as run:
        if mode == "sync":
            final = agent.invoke(request, config)
        else:
            final = asyncio.run(agent.ainvoke(request, config))
    assert final["messages"][-1].content.startswith("done: refunded")
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    starts = [e.data for e in events if e.type == "tool.call.started"]
    ends = [e.data for e in events if e.type == "tool.call.ended"]
    assert sorted((s.tool_call_id, s.tool, s.args["amount_usd"], s.attempt) for s in starts) == [
        ("7-0", "refund", 150, 1), ("7-1", "refund", 151, 1), ("7-2", "refund", 152, 1)]
    assert sorted((e.tool_call_id, e.status) for e in ends) == [
        ("7-0", "ok"), ("7-1", "ok"), ("7-2", "ok")]
    assert {s.side_effect for s in starts} == {True}  # "unknown" is recorded as True
    assert [e.type for e in events].count("llm.call.ended") == 2
    assert {e.principal.initiating_user for e in events} == {"carol"}
    assert events[-1].type == "run.ended" and events[-1].data.totals.tool_calls == 3
    assert check(cli, tmp_path, run.run_id, 3)[0] == "pass"
    outcome, why = check(cli, tmp_path, run.run_id, 2)
    assert outcome == "fail" and "3" in why
