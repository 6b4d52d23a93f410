"""MCP call overhead: `call_tool` on a real in-memory MCPServer through `mcp.Client`, plain vs
through LedgerMCPSession (intent durable before the request: fail closed), in the same run.

`python -m bench.integrations.mcp [--quick]`; uses LEDGER_BENCH_DSN's server or the embedded one.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from mcp import Client
from mcp.server import MCPServer

import ledger.hooks as hooks
from bench.common import fresh_settings
from bench.integrations.common import Overhead
from ledger.integrations.mcp import LedgerMCPSession


def _server() -> MCPServer:
    server = MCPServer("bench")

    @server.tool()
    def close_ticket(ticket_id: str) -> str:
        """Close a ticket."""
        return f"closed {ticket_id}"

    return server


async def _per_call(session: Any, calls: int) -> float:
    start = time.perf_counter()
    for n in range(calls):
        await session.call_tool("close_ticket", {"ticket_id": f"T-{n}"})
    return (time.perf_counter() - start) / calls


async def _measure(calls: int) -> tuple[float, float]:
    async with Client(_server()) as client:
        wrapped = LedgerMCPSession(client.session, server="bench")
        async with hooks.run(agent="bench-mcp"):
            await _per_call(client.session, 10)
            await _per_call(wrapped, 10)  # warm both paths
            plain = await _per_call(client.session, calls)
            recorded = await _per_call(wrapped, calls)
    return plain, recorded


def measure(quick: bool) -> list[Overhead]:
    """Seconds per call_tool, plain vs recorded (including the wait for durable intent)."""
    hooks.configure(fresh_settings("mcp"), sequence=True)
    try:
        plain, recorded = asyncio.run(_measure(50 if quick else 500))
        assert hooks.flush(600)
    finally:
        hooks.shutdown()
    return [Overhead("mcp.call_tool", plain, recorded)]


if __name__ == "__main__":
    for o in measure("--quick" in sys.argv):
        print(f"{o.name}: plain {o.plain_s * 1e3:.2f} ms, instrumented "
              f"{o.instrumented_s * 1e3:.2f} ms ({o.instrumented_s / o.plain_s:.1f}x)")
