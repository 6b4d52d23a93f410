"""MCP wrapper with a real in-memory MCP server (mcp.Client connected in-process)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

import ledger.hooks as hooks
from ledger.events import args_hash
from ledger.integrations.mcp import LedgerMCPSession

from .conftest import stored

calls: list[str] = []


def _server() -> MCPServer:
    server = MCPServer("crm")

    @server.tool()
    def close_ticket(ticket_id: str) -> str:
        """Close a ticket."""
        calls.append(ticket_id)
        return f"closed {ticket_id}"

    @server.tool()
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("crm is down")

    return server


def test_call_tool_is_recorded(writer, ledger_conn):
    async def main() -> Any:
        async with Client(_server()) as client:
            session = LedgerMCPSession(client.session, server="crm")
            async with hooks.run(agent="mcp-agent", user="alice") as run:
                ok = await session.call_tool("close_ticket", {"ticket_id": "T-1"})
                bad = await session.call_tool("broken", {})
                assert await session.list_tools()  # other methods pass through
            return run, ok, bad

    run, ok, bad = asyncio.run(main())
    assert not getattr(ok, "is_error", getattr(ok, "isError", False))
    assert getattr(bad, "is_error", getattr(bad, "isError", False))
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    starts = [e for e in events if e.type == "tool.call.started"]
    ends = [e for e in events if e.type == "tool.call.ended"]
    assert starts[0].data.tool == "close_ticket"
    assert starts[0].data.args_hash == args_hash({"ticket_id": "T-1"})
    assert starts[0].data.resources == ("mcp:crm",)
    assert starts[0].source.integration == "mcp"
    assert [e.data.status for e in ends] == ["ok", "error"]
    assert "closed T-1" in str(ends[0].data.result)


def test_mcp_fails_closed_when_db_down(writer, flaky, ledger_conn):
    calls.clear()

    async def main() -> None:
        async with Client(_server()) as client:
            session = LedgerMCPSession(client.session, server="crm")
            async with hooks.run(agent="mcp-agent"):
                flaky.go_down()
                with pytest.raises(hooks.LedgerUnavailable):
                    await session.call_tool("close_ticket", {"ticket_id": "T-2"})

    asyncio.run(main())
    assert calls == []
    flaky.come_back()
    assert writer.flush()
