"""MCP, server side: a stop in the server's own hooks answers isError with the stop's line.

Real in-memory MCPServer and Client. The stop is the stand-in gate (tests/integrations/live.py)
because it must land inside the server's `@ledger.tool` at a precise point; the client-side
stop (call_tool raises RunStopped) is end to end in test_live_e2e.py, and denials and holds,
client and server side, are end to end with a real enforced pack in test_enforced_e2e.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

import ledger.hooks as hooks
from ledger.integrations.mcp import LedgerMCPSession, surface_refusals

from .conftest import stored
from .live import Switch, gate

SERVER = Switch()  # what the server's ledger has in force


@pytest.fixture(autouse=True)
def _fresh_switch() -> None:
    SERVER.__init__()  # type: ignore[misc]


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


def _client(*calls: str) -> tuple[Any, list[Any]]:
    async def main() -> Any:
        results: list[Any] = []
        async with Client(_server()) as client:
            async with hooks.run(agent="mcp-agent") as run:
                session = LedgerMCPSession(client.session, server="crm", run=run)
                for ticket in calls:
                    results.append(await session.call_tool("close_ticket",
                                                           {"ticket_id": ticket}))
        return run, results

    return asyncio.run(main())


def _text(result: Any) -> str:
    return " ".join(c.text for c in result.content)


def test_server_stop_answers_is_error_with_the_line(writer, ledger_conn):
    SERVER.stopped = True
    run, (stopped,) = _client("T-1")
    assert stopped.is_error and "stopped by oncall" in _text(stopped)
    assert "refund storm" in _text(stopped) and SERVER.bodies == []
    writer.flush()
    events = stored(ledger_conn, run.run_id)  # the client's run: an error, not a halt
    # in-process server: its @ledger.tool records into the same run, then the client's result
    assert [e.data.status for e in events if e.type == "tool.call.ended"] == ["error", "error"]
    assert events[-1].data.status == "succeeded"
