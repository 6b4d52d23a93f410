"""MCP: record every `call_tool` made through a client session, intent first.

Tools reached over MCP bypass framework hooks, so the wrapper sits on the client side, where the
agent's identity is known: `session = LedgerMCPSession(session, server="crm")`. Each call records
`tool.call.started` (name, arguments, args_hash, the server as a resource) and waits until it is
durably acknowledged before sending the request: an MCP tool can have side effects, so by default
the call fails closed with `LedgerUnavailable` when the intent cannot be recorded. The outcome is
`tool.call.ended` with the `CallToolResult` (`isError` becomes status "error"), and the raw
request and result are kept with the schema tag `mcp@<version>/call_tool`. Works with mcp 1.x
(`ClientSession`, FastMCP, `isError`) and 2.x (`Client`, MCPServer, `is_error`), told apart by
what the installed package has, never by its version string. A call made outside any
`ledger.run(...)` gets a one-call implicit run with the same guarantees (intent durable before
the request, fail closed), so nothing is called unrecorded.

Live control (DESIGN §14), client side: when the hooks refuse the call at its acknowledgement,
the request is never sent; a `RunStopped` is raised (the agent's run halts) and a
`PolicyDenied` / `ApprovalRequired` is returned as an `isError` result with the rules, reasons
and approval ids, the way the model sees any tool error. Server side: `surface_refusals` over a
`@ledger.tool` under `@server.tool()` makes the server answer `isError` with the refusal's line
(the SDK would otherwise hide it behind "Error executing tool"). The client never turns a
server's text into a stop: that text is the server's claim; the client's own run halts only on
a stop its own hooks see.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, TypeVar

from ledger.hooks.context import current_run
from ledger.hooks.errors import LedgerUnavailable, LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.tools import acknowledged
from ledger.hooks.toolschema import ToolSchema, tool_schema
from ledger.integrations import missing_extra
from ledger.integrations.refusals import refusal_text

try:
    from mcp.types import CallToolResult, TextContent
except ImportError as _missing:
    raise missing_extra(__name__, "mcp", _missing) from None


def _tool_error() -> type[Exception]:
    """The server SDK's ToolError: MCPServer's (2.x) where it exists, else FastMCP's (1.x)."""
    for module in ("mcp.server.mcpserver.exceptions", "mcp.server.fastmcp.exceptions"):
        try:
            found: type[Exception] = importlib.import_module(module).ToolError
        except (ImportError, AttributeError):
            continue
        return found
    raise ImportError("ledger.integrations.mcp: this mcp has neither MCPServer nor FastMCP")


ToolError = _tool_error()

__all__ = ["LedgerMCPSession", "is_error", "surface_refusals"]

SCHEMA = f"mcp@{version('mcp')}/call_tool"
_F = TypeVar("_F", bound=Callable[..., Any])


def surface_refusals(fn: _F) -> _F:
    """Server side: a ledger refusal in a tool becomes a `ToolError` carrying its line.

    MCPServer answers a `ToolError` with `isError` and the message; any other exception is
    a crash whose text it withholds, so without this the client would only see "Error executing
    tool". Stack it as `@server.tool()` / `@surface_refusals` / `@ledger.tool(...)`."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def awrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except LiveControl as exc:
                raise ToolError(refusal_text(exc)) from exc

        return awrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LiveControl as exc:
            raise ToolError(refusal_text(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _refused(exc: LiveControl) -> CallToolResult:
    """A denial or hold as the tool's error result: the request was never sent.

    Built from the wire name `isError`, which both 1.x (field `isError`) and 2.x (field
    `is_error`, alias `isError`) accept."""
    return CallToolResult.model_validate(
        {"content": [TextContent(type="text", text=refusal_text(exc))], "isError": True})


def is_error(result: Any) -> bool:
    """`isError` (mcp 1.x) or `is_error` (2.x), whichever the result has."""
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


class LedgerMCPSession:
    """A transparent proxy of an MCP client session whose `call_tool` is recorded."""

    def __init__(self, session: Any, *, server: str = "mcp", side_effect: bool = True,
                 fail_open: bool = False, run: Run | None = None, agent: str | None = None,
                 user: str | None = None) -> None:
        """`agent` / `user` name the implicit run of a call made outside any `ledger.run`."""
        self._session = session
        self._server = server
        self._side_effect = side_effect
        self._fail_open = fail_open
        self._run = run
        self._agent = agent or f"mcp-client:{server}"
        self._user = user
        self._schemas: dict[str, ToolSchema | None] = {}  # tool name -> its inputSchema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    async def list_tools(self, *args: Any, **kwargs: Any) -> Any:
        """The server's tools, as the session returns them; each tool's `inputSchema` is kept
        for the calls that follow (docs/hooks.md "Tool schemas": a call made before any
        `list_tools` has no schema)."""
        listed = await self._session.list_tools(*args, **kwargs)
        for item in getattr(listed, "tools", None) or ():
            schema = getattr(item, "input_schema", None) or getattr(item, "inputSchema", None)
            self._schemas[str(item.name)] = tool_schema(schema)
        return listed

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, *args: Any,
                        **kwargs: Any) -> Any:
        """Record intent, wait for the ack (fail closed), call the tool, record the outcome."""
        run = self._run or current_run()
        if run is not None:
            return await self._call(run, name, arguments, args, kwargs)
        implicit = Run(agent=self._agent, user=self._user,
                       attributes={"implicit": True, "mcp_server": self._server},
                       source={"framework": "mcp", "integration": "mcp"})
        async with implicit:
            return await self._call(implicit, name, arguments, args, kwargs)

    async def _call(self, run: Run, name: str, arguments: dict[str, Any] | None,
                    args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        source = {"framework": "mcp", "integration": "mcp", "schema": SCHEMA}
        try:  # an enforced pack decides here: a denial or hold is raised before any ack
            call = run.tool_started(
                name, arguments or {}, side_effect=self._side_effect,
                resources=(f"mcp:{self._server}",), wait=True, require_db=not self._fail_open,
                args_schema=self._schemas.get(name),
                source=source, raw=(SCHEMA, {"server": self._server, "name": name,
                                             "arguments": arguments}))
        except LiveControl as exc:
            if isinstance(exc, RunStopped):
                raise
            return _refused(exc)
        try:
            await acknowledged(call)
        except asyncio.CancelledError as exc:
            run.tool_ended(call, status="cancelled", error=exc, source=source)
            raise
        except LiveControl as exc:  # refused at the ack; the hooks recorded the refusal
            if isinstance(exc, RunStopped):
                raise
            return _refused(exc)
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
        failed = is_error(result)
        run.tool_ended(call, status="error" if failed else "ok", result=dumped,
                       error="MCP tool returned isError" if failed else None, source=source,
                       raw=(SCHEMA, {"server": self._server, "result": dumped}))
        return result
