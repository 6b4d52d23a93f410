"""MCP: a denial is the tool's error result (client side, the request is never sent), and a
server answers isError with a stop's or a denial's line. Real in-memory MCPServer and Client.
The client-side stop (call_tool raises RunStopped) is end to end in test_live_e2e.py.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

import ledger.hooks as hooks
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
    """Stands in for slice "enforce": `tool_started(wait=True)`'s ack fails with the denial
    instead of resolving, as the hooks' gate does for a stop (s16-hooks)."""

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


def test_client_denial_is_an_error_result(writer, ledger_conn):
    for kind in ("deny", "approve"):  # one writer for both: each test pays a writer shutdown
        CLIENT.__init__()  # type: ignore[misc]
        _denial_case(kind)


def _denial_case(kind: str) -> None:
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
