"""MCP: a stop refuses `call_tool` (client raises RunStopped; a server answers isError with the
stop line) and a denial is the tool's error result. Real in-memory MCPServer and Client.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

import ledger.hooks as hooks
from ledger.hooks.errors import RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.tools import ToolCall
from ledger.integrations.mcp import LedgerMCPSession, surface_refusals

from .conftest import stored
from .live import Switch, gate

SERVER = Switch()  # what the server's ledger has in force
CLIENT = Switch()  # what the client's ledger has in force


@pytest.fixture(autouse=True)
def _fresh_switches() -> None:
    SERVER.__init__()  # type: ignore[misc]
    CLIENT.__init__()  # type: ignore[misc]


def _server() -> MCPServer:
    server = MCPServer("crm")

    @server.tool()
    @surface_refusals
    @hooks.tool(name="close_ticket", side_effect=True)
    @gate(SERVER, "close_ticket")
    def close_ticket(ticket_id: str) -> str:
        """Close a ticket."""
        return f"closed {ticket_id}"

    return server


class GatedRun(Run):
    """Stands in for slice "hooks": `tool_started(wait=True)`'s ack fails with the refusal
    (RunStopped, or enforce's denial) instead of resolving, as the hooks' gate does."""

    def tool_started(self, tool: str, args: Any, **kw: Any) -> ToolCall:
        call = super().tool_started(tool, args, **kw)
        try:
            CLIENT.check(tool)
        except Exception as exc:
            refused: Future[Any] = Future()
            refused.set_exception(exc)
            return ToolCall(call.tool_call_id, call.tool, call.started_ns, refused)
        return call


def _client(*calls: str) -> tuple[Any, list[Any]]:
    async def main() -> Any:
        results: list[Any] = []
        async with Client(_server()) as client:
            async with GatedRun(agent="mcp-agent") as run:
                session = LedgerMCPSession(client.session, server="crm", run=run)
                for ticket in calls:
                    results.append(await session.call_tool("close_ticket",
                                                           {"ticket_id": ticket}))
        return run, results

    return asyncio.run(main())


def _text(result: Any) -> str:
    return " ".join(c.text for c in result.content)


def _leaves(exc: BaseException) -> tuple[BaseException, ...]:
    if isinstance(exc, BaseExceptionGroup):
        return tuple(leaf for inner in exc.exceptions for leaf in _leaves(inner))
    return (exc,)


def test_client_stop_refuses_call_tool_and_halts(writer, ledger_conn):
    CLIENT.stopped = True
    caught: tuple[BaseException, ...] = ()
    try:
        _client("T-1")
    except* RunStopped as group:  # mcp.Client's task groups wrap what leaves its block
        caught = _leaves(group)
    (stop,) = caught
    assert isinstance(stop, RunStopped) and "refund storm" in str(stop)
    assert SERVER.bodies == []  # the request never reached the server
    writer.flush()
    events = stored(ledger_conn, stop.run_id)
    assert [e.data.tool for e in events if e.type == "tool.call.started"] == ["close_ticket"]
    # Today `ledger.run` ends a run left by any exception as failed; slice "hooks" makes a
    # RunStopped end it `stopped` (with stopped_by): this assertion flips with that merge.
    assert events[-1].type == "run.ended" and events[-1].data.status == "failed"


@pytest.mark.parametrize("kind", ["deny", "approve"])
def test_client_denial_is_an_error_result(writer, ledger_conn, kind):
    (CLIENT.deny if kind == "deny" else CLIENT.approve).add("close_ticket")
    _, (result,) = _client("T-1")
    assert result.is_error and SERVER.bodies == []
    text = _text(result)
    if kind == "deny":
        assert "denied by policy" in text and "tools.allow" in text
    else:
        assert "approval_id=appr-7" in text and f"args_hash={'ab' * 32}" in text


def test_server_stop_and_denial_answer_is_error_with_the_line(writer, ledger_conn):
    SERVER.stopped = True
    run, (stopped,) = _client("T-1")
    assert stopped.is_error and "stopped by oncall" in _text(stopped)
    assert "refund storm" in _text(stopped) and SERVER.bodies == []
    SERVER.stopped = False
    SERVER.deny.add("close_ticket")
    _, (denied,) = _client("T-2")
    assert denied.is_error and "tools.allow" in _text(denied) and SERVER.bodies == []
    writer.flush()
    events = stored(ledger_conn, run.run_id)  # the client's run: an error, not a halt
    # in-process server: its @ledger.tool records into the same run, then the client's result
    assert [e.data.status for e in events if e.type == "tool.call.ended"] == ["error", "error"]
    assert events[-1].data.status == "succeeded"
