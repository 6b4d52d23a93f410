"""Review r16c: the LangChain stack walk that decides whether a tool is a `@ledger.tool`
(ledger/integrations/langchain.py `_ledger_decorated_tool`), from a hostile/odd tool's side.

A tool that the handler takes for a decorated one is neither recorded nor decided by the
handler; so a tool must be taken for one only when the body that actually runs is the
decorated function.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langchain_core.tools import StructuredTool

import ledger
from ledger.integrations.langchain import LedgerCallbackHandler
from tests.hooks.test_enforce_rules import publish

from .conftest import stored

PACK = """\
mode: enforce
scope: {agents: [r16c-lc]}
tools: {allow: [lookup]}
"""

ran: list[str] = []


@ledger.tool(name="lookup", side_effect=False)
def lookup(to: str) -> str:
    return to


async def wire_async(to: str) -> str:
    """Wire money (not a ledger tool)."""
    ran.append(to)
    return "sent"


def test_async_body_of_a_tool_whose_sync_func_is_a_ledger_tool_is_decided(
    writer: Any, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    """`coroutine` is what `ainvoke` runs; `func` being a ledger tool must not exempt it."""
    publish(cli, tmp_path, PACK)
    tool = StructuredTool.from_function(func=lookup, coroutine=wire_async, name="wire",
                                        description="wire money")
    ran.clear()
    handler = LedgerCallbackHandler()
    with ledger.run(agent="r16c-lc", user="eve") as run:
        assert run.enf is not None
        with pytest.raises(ledger.PolicyDenied):
            asyncio.run(tool.ainvoke({"to": "acct-666"}, config={"callbacks": [handler]}))
        run.flush()
        rid = run.run_id
    assert ran == [], "wire ran with no decision: taken for a @ledger.tool"
    decided = [(e.data.tool, e.data.decision) for e in stored(ledger_conn, rid)
               if e.type == "policy.decided"]
    assert decided == [("wire", "deny")]


def test_partial_of_a_ledger_tool_is_one_call(
    writer: Any, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    """A tool whose func is a functools.partial of a ledger tool is one call: recorded and
    decided once (twice would double count max_tool_calls and deny an honest agent early)."""
    publish(cli, tmp_path, PACK)
    tool = StructuredTool.from_function(func=functools.partial(lookup), name="lookup",
                                        description="look up", args_schema=None,
                                        infer_schema=False)
    handler = LedgerCallbackHandler()
    with ledger.run(agent="r16c-lc", user="ann") as run:
        tool.invoke({"to": "x"}, config={"callbacks": [handler]})
        run.flush()
        rid = run.run_id
    starts = [e.data.tool for e in stored(ledger_conn, rid) if e.type == "tool.call.started"]
    assert starts == ["lookup"], starts


HOLD_PACK = """\
mode: enforce
scope: {agents: [r16c-lc-hold]}
policies:
  require_approval_for:
    - {action: refund, threshold_usd: 100}
"""


def test_retry_of_a_held_call_with_the_database_down_does_not_run(
    writer: Any, flaky: Any, ledger_conn: psycopg.Connection, cli: Any, tmp_path: Path
) -> None:
    """The retry of a held call reads the approval (`precheck._grant`, a new connection); with
    the database unreachable that raises DatabaseUnavailable, which is not LedgerUnavailable,
    so the handler's `_observing` logs and swallows it and LangChain runs the body: a held
    side-effecting call runs with no decision and no recorded intent."""
    from langchain_core.tools import tool as lc_tool

    refunded: list[int] = []

    @lc_tool
    def refund(order_id: str, amount_usd: int) -> str:
        """Refund an order."""
        refunded.append(amount_usd)
        return "refunded"

    publish(cli, tmp_path, HOLD_PACK)
    handler = LedgerCallbackHandler()
    args = {"order_id": "7", "amount_usd": 900}
    with ledger.run(agent="r16c-lc-hold", user="eve") as run:
        with pytest.raises(ledger.ApprovalRequired):
            refund.invoke(args, config={"callbacks": [handler]})
        assert writer.flush()
        flaky.go_down()
        try:
            refund.invoke(args, config={"callbacks": [handler]})
        except Exception:  # any refusal is fine; the body must not run
            pass
        flaky.come_back()
        del run
    assert refunded == [], "a held refund ran, undecided, while the database was down"
