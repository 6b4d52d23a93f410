"""MCP: record every `call_tool` made through a client session, intent first.

Tools reached over MCP bypass framework hooks, so the wrapper sits on the client side, where the
agent's identity is known: `session = LedgerMCPSession(session, server="crm")`. Each call records
`tool.call.started` (name, arguments, args_hash, the server as a resource) and waits until it is
durably acknowledged before sending the request: an MCP tool can have side effects, so by default
the call fails closed with `LedgerUnavailable` when the intent cannot be recorded. The outcome is
`tool.call.ended` with the `CallToolResult` (`isError` becomes status "error"), and the raw
request and result are kept with the schema tag `mcp@<version>/call_tool`. Works with
`mcp.ClientSession` and with `mcp.Client` (anything with an async `call_tool`).
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

from ledger.hooks.context import current_run
from ledger.hooks.errors import LedgerUnavailable
from ledger.hooks.runs import Run
from ledger.hooks.setup import ACK_TIMEOUT

__all__ = ["LedgerMCPSession"]

SCHEMA = f"mcp@{version('mcp')}/call_tool"


class LedgerMCPSession:
    """A transparent proxy of an MCP client session whose `call_tool` is recorded."""

    def __init__(self, session: Any, *, server: str = "mcp", side_effect: bool = True,
                 fail_open: bool = False, run: Run | None = None) -> None:
        self._session = session
        self._server = server
        self._side_effect = side_effect
        self._fail_open = fail_open
        self._run = run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, *args: Any,
                        **kwargs: Any) -> Any:
        """Record intent, wait for the ack (fail closed), call the tool, record the outcome."""
        run = self._run or current_run()
        if run is None:
            return await self._session.call_tool(name, arguments, *args, **kwargs)
        source = {"framework": "mcp", "integration": "mcp", "schema": SCHEMA}
        call = run.tool_started(
            name, arguments or {}, side_effect=self._side_effect,
            resources=(f"mcp:{self._server}",), wait=True, require_db=not self._fail_open,
            source=source, raw=(SCHEMA, {"server": self._server, "name": name,
                                         "arguments": arguments}))
        try:
            assert call.ack is not None
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(call.ack)), ACK_TIMEOUT)
        except asyncio.CancelledError as exc:
            run.tool_ended(call, status="cancelled", error=exc, source=source)
            raise
        except Exception as exc:
            if not self._fail_open:
                refusal = LedgerUnavailable(
                    f"the intent of MCP tool {name!r} could not be recorded; it was not called")
                run.tool_ended(call, status="error", error=refusal, source=source)
                raise refusal from None
            del exc
        try:
            result = await self._session.call_tool(name, arguments, *args, **kwargs)
        except asyncio.CancelledError as exc:
            run.tool_ended(call, status="cancelled", error=exc, source=source)
            raise
        except BaseException as exc:
            run.tool_ended(call, status="error", error=exc, source=source)
            raise
        dumped = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
        failed = bool(getattr(result, "isError", False) or getattr(result, "is_error", False))
        run.tool_ended(call, status="error" if failed else "ok", result=dumped,
                       error="MCP tool returned isError" if failed else None, source=source,
                       raw=(SCHEMA, {"server": self._server, "result": dumped}))
        return result
