"""Each framework's own tool definition is the schema recorded with its calls: LangChain's
`tool_call_schema`, the Agents SDK's `params_json_schema`, MCP's `inputSchema`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from agents import Agent, Runner, function_tool
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool
from mcp import Client
from mcp.server import MCPServer
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

import ledger.hooks as hooks
from ledger.hooks.toolschema import tool_schema
from ledger.integrations.langchain import LedgerCallbackHandler
from ledger.integrations.mcp import LedgerMCPSession
from ledger.integrations.openai_agents import LedgerRunHooks
from tests.integrations.langgraph_kit import ScriptedChat

from .conftest import starts_of


@tool("lookup")
def lookup(customer_id: str, limit: int) -> str:
    """Look a customer up."""
    return f"found {customer_id}"


def _two_lookups(messages: list[BaseMessage]) -> AIMessage:
    if isinstance(messages[-1], ToolMessage):
        return AIMessage(content="done")
    return AIMessage(content="", tool_calls=[
        {"name": "lookup", "args": {"customer_id": "C-1", "limit": 3}, "id": "l1"},
        {"name": "lookup", "args": {"customer_id": "C-2", "limit": "many"}, "id": "l2"}])


def test_langchain_tool_call_schema(writer, ledger_conn):
    agent = create_agent(ScriptedChat(script=_two_lookups), [lookup])
    handler = LedgerCallbackHandler(tools=[lookup])
    with hooks.run(agent="lc", user="alice") as run:
        agent.invoke({"messages": [("user", "look up C-1")]}, {"callbacks": [handler]})
    writer.flush()
    starts = starts_of(ledger_conn, run.run_id)
    want = tool_schema(lookup.tool_call_schema.model_json_schema())
    assert want is not None and len(starts) == 2
    assert {s.args_schema_digest for s in starts} == {want.digest}
    assert [s.args_schema is not None for s in starts].count(True) == 1
    assert want.schema["properties"]["limit"]["type"] == "integer"


def test_langchain_schema_from_bound_tools():
    from ledger.integrations.langchain_schemas import ToolSchemas

    schemas = ToolSchemas()
    params = {"tools": [{"type": "function", "function": {
        "name": "lookup", "parameters": {"type": "object", "required": ["customer_id"]}}}]}
    schemas.learn_bound(params)
    found = schemas.get("lookup")
    assert found is not None and found.schema["required"] == ["customer_id"]
    assert schemas.get("other") is None


class _PayTwice(Model):
    """Proposes `pay` once with good args; answers once the output is in."""

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        usage = Usage(requests=1, input_tokens=1, output_tokens=1, total_tokens=2)
        if "function_call_output" in json.dumps(input, default=str):
            return ModelResponse(output=[ResponseOutputMessage(
                id="m1", type="message", role="assistant", status="completed",
                content=[ResponseOutputText(type="output_text", text="ok", annotations=[])])],
                response_id=None, usage=usage)
        return ModelResponse(output=[ResponseFunctionToolCall(
            type="function_call", name="pay", arguments='{"to": "bob", "amount": 5}',
            call_id="p1", id="fc_p1", status="completed")], response_id=None, usage=usage)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@function_tool
def pay(to: str, amount: int) -> str:
    """Pay someone."""
    return f"paid {to}"


def test_openai_agents_params_json_schema(writer, ledger_conn):
    async def main() -> Any:
        agent = Agent(name="payer", instructions="pay", tools=[pay], model=_PayTwice())
        async with hooks.run(agent="payer", user="alice") as run:
            await Runner.run(agent, "pay bob 5", hooks=LedgerRunHooks())
        return run

    run = asyncio.run(main())
    writer.flush()
    (start,) = starts_of(ledger_conn, run.run_id)
    want = tool_schema(pay.params_json_schema)
    assert want is not None
    assert start.args_schema_digest == want.digest and start.args_schema == want.schema
    assert start.args == {"to": "bob", "amount": 5}


def _server() -> MCPServer:
    server = MCPServer("crm")

    @server.tool()
    def close_ticket(ticket_id: str) -> str:
        """Close a ticket."""
        return f"closed {ticket_id}"

    return server


def test_mcp_input_schema_after_list_tools(writer, ledger_conn):
    async def main() -> Any:
        async with Client(_server()) as client:
            session = LedgerMCPSession(client.session, server="crm")
            async with hooks.run(agent="mcp-agent", user="alice") as run:
                await session.call_tool("close_ticket", {"ticket_id": "T-0"})  # not listed yet
                listed = await session.list_tools()
                await session.call_tool("close_ticket", {"ticket_id": "T-1"})
                await session.call_tool("close_ticket", {"ticket_id": "T-2"})
            return run, listed

    run, listed = asyncio.run(main())
    writer.flush()
    before, first, second = starts_of(ledger_conn, run.run_id)
    want = tool_schema(listed.tools[0].input_schema)
    assert want is not None and want.schema["required"] == ["ticket_id"]
    assert before.args_schema_digest is None
    assert first.args_schema_digest == second.args_schema_digest == want.digest
    assert first.args_schema == want.schema and second.args_schema is None
