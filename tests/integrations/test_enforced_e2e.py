"""End to end: a real enforced pack (published, pinned at run start, decided by the hooks before
each tool body) denies and holds tool calls, and each framework surfaces that as its own tool
error so the scripted model makes its next turn. No stand-in gate: the refusals are the hooks'
own `PolicyDenied` / `ApprovalRequired` (tests/integrations/enforced.py has the pack and the
facts every framework must show: decisions stored first, rule ids and approval id in what the
model read, bodies never run, `ledger check` passing `enforcement.decisions`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
from agents import Agent, RunConfig, Runner, function_tool
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool as lc_tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from mcp import Client
from mcp.server import MCPServer
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.integrations.langchain import LedgerCallbackHandler, tool_errors
from ledger.integrations.mcp import LedgerMCPSession, surface_refusals
from ledger.integrations.openai_agents import (
    LedgerRunHooks,
    ledger_guardrail,
    tool_error,
    tool_error_formatter,
)

from .conftest import stored
from .enforced import SCRIPT, assert_enforced, publish

BODIES: list[str] = []


@hooks.tool(name="wire", side_effect=True)
def _wire(to: str) -> str:
    """Wire money to an account (not allowed by the pack)."""
    BODIES.append(f"wire {to}")
    return f"wired {to}"


@hooks.tool(name="refund", side_effect=True)
def _refund(order_id: str, amount_usd: int) -> str:
    """Refund an order (held for approval at $100 or more)."""
    BODIES.append(f"refund {order_id}")
    return f"refunded {order_id}"


def _plain_wire(to: str) -> str:
    """Wire money to an account: not a `@ledger.tool` (an integration must decide it)."""
    BODIES.append(f"wire {to}")
    return f"wired {to}"


def _plain_refund(order_id: str, amount_usd: int) -> str:
    """Refund an order: not a `@ledger.tool`."""
    BODIES.append(f"refund {order_id}")
    return f"refunded {order_id}"


def _langgraph(agent_name: str, callbacks: list[Any],
               plain: bool = False) -> tuple[Any, Any, list[list[Any]]]:
    """agent -> ToolNode(handle_tool_errors=tool_errors()) -> agent, over SCRIPT then "done"
    (`plain`: the tools are undecorated functions, seen only by the callback handler)."""
    replies = [AIMessage(content="", tool_calls=[{"name": t, "args": a, "id": f"tc{n}"}])
               for n, (t, a) in enumerate(SCRIPT, 1)]
    model = GenericFakeChatModel(messages=iter([*replies, AIMessage(content="done")]))
    seen: list[list[Any]] = []

    def agent(state: MessagesState) -> dict[str, Any]:
        seen.append(list(state["messages"]))
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    wire, refund = (_plain_wire, _plain_refund) if plain else (_wire, _refund)
    graph.add_node("tools", ToolNode([lc_tool("wire")(wire), lc_tool("refund")(refund)],
                                     handle_tool_errors=tool_errors()))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    with hooks.run(agent=agent_name) as run:
        final = graph.compile().invoke({"messages": [HumanMessage("pay")]},
                                       {"callbacks": callbacks})
    return run, final, seen


def test_langgraph_tool_node_surfaces_real_denial_and_hold(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    pack_hash = publish(ledger_conn, ledger_settings)
    BODIES.clear()
    run, final, seen = _langgraph("lg-enforced", [])
    assert BODIES == ["refund 8"]  # the denied and the held bodies never ran
    assert final["messages"][-1].content == "done" and len(seen) == 4
    read = [[m for m in turn if isinstance(m, ToolMessage)][-1] for turn in seen[1:]]
    assert [(m.tool_call_id, m.status) for m in read] == [
        ("tc1", "error"), ("tc2", "error"), ("tc3", "success")]
    writer.flush()
    assert_enforced(ledger_conn, ledger_settings, run.run_id, pack_hash, str(read[0].content),
                    str(read[1].content))


def test_langgraph_with_the_callback_handler_still_proves_enforcement(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    pack_hash = publish(ledger_conn, ledger_settings)
    BODIES.clear()
    run, _, seen = _langgraph("lg-enforced", [LedgerCallbackHandler()])
    assert BODIES == ["refund 8"]
    read = [[m for m in turn if isinstance(m, ToolMessage)][-1] for turn in seen[1:]]
    writer.flush()
    assert_enforced(ledger_conn, ledger_settings, run.run_id, pack_hash, str(read[0].content),
                    str(read[1].content))


def test_langgraph_callback_handler_decides_undecorated_tools_before_their_bodies(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """Plain LangChain tools under an enforced pack: the handler decides each call before its
    body (decision and intent acknowledged first) and the denial and the hold reach the model
    as error ToolMessages through tool_errors(); one record per call, the framework's id."""
    pack_hash = publish(ledger_conn, ledger_settings)
    BODIES.clear()
    run, final, seen = _langgraph("lg-enforced", [LedgerCallbackHandler()], plain=True)
    assert BODIES == ["refund 8"]
    assert final["messages"][-1].content == "done" and len(seen) == 4
    read = [[m for m in turn if isinstance(m, ToolMessage)][-1] for turn in seen[1:]]
    assert [(m.tool_call_id, m.status) for m in read] == [
        ("tc1", "error"), ("tc2", "error"), ("tc3", "success")]
    writer.flush()
    assert_enforced(ledger_conn, ledger_settings, run.run_id, pack_hash, str(read[0].content),
                    str(read[1].content))
    decided = [e.data for e in stored(ledger_conn, run.run_id) if e.type == "policy.decided"]
    assert [d.tool_call_id for d in decided] == ["tc1", "tc2", "tc3"]


class Scripted(Model):
    """Proposes SCRIPT's calls one a turn, then answers; keeps what it was given each turn."""

    model = "gpt-4o-mini"

    def __init__(self) -> None:
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        self.inputs.append(input)
        turn = len(self.inputs)
        out: list[Any]
        if turn <= len(SCRIPT):
            name, arguments = SCRIPT[turn - 1]
            out = [ResponseFunctionToolCall(
                type="function_call", name=name, arguments=json.dumps(arguments),
                call_id=f"call_{turn}", id=f"fc_{turn}", status="completed")]
        else:
            out = [ResponseOutputMessage(
                id="m1", type="message", role="assistant", status="completed",
                content=[ResponseOutputText(type="output_text", text="done", annotations=[])])]
        return ModelResponse(output=out, response_id=None, usage=Usage(
            requests=1, input_tokens=10, output_tokens=2, total_tokens=12))

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _outputs(model: Scripted) -> list[str]:
    """The function_call_output the model read at each turn after a call (its last one)."""
    out = []
    for turn in model.inputs[1:]:
        items = [i for i in turn if isinstance(i, dict) and i.get("type") == "function_call_output"]
        out.append(str(items[-1]["output"]))
    return out


def _openai(way: str, agent_name: str, run_hooks: Any = None) -> tuple[Any, Any, Scripted]:
    """A real Agent and Runner over SCRIPT; the refusal worded by `tool_error` (the tool's
    failure_error_function) or by `tool_error_formatter` (RunConfig, the SDK's default handler)."""
    model = Scripted()
    tools: list[Any]
    if way == "guardrail":
        tools = [function_tool(_plain_wire, name_override="wire",
                               tool_input_guardrails=[ledger_guardrail]),
                 function_tool(_plain_refund, name_override="refund",
                               tool_input_guardrails=[ledger_guardrail])]
        config = None
    elif way == "failure_error_function":
        tools = [function_tool(_wire, name_override="wire", failure_error_function=tool_error),
                 function_tool(_refund, name_override="refund", failure_error_function=tool_error)]
        config = None
    else:
        tools = [function_tool(_wire, name_override="wire"),
                 function_tool(_refund, name_override="refund")]
        config = RunConfig(tool_error_formatter=tool_error_formatter)

    async def main() -> Any:
        agent = Agent(name="payer", tools=tools, model=model)
        async with hooks.run(agent=agent_name) as run:
            result = await Runner.run(agent, "pay", hooks=run_hooks, run_config=config)
        return run, result

    run, result = asyncio.run(main())
    return run, result, model


def test_openai_agents_surface_real_denial_and_hold(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    pack_hash = publish(ledger_conn, ledger_settings)
    for way, agent_name in (("failure_error_function", "oa-enforced"),
                            ("formatter", "oa-enforced-fmt")):
        BODIES.clear()
        run, result, model = _openai(way, agent_name)
        assert result.final_output == "done" and len(model.inputs) == 4, way
        assert BODIES == ["refund 8"], way
        outputs = _outputs(model)
        assert outputs[2] == "refunded 8", way
        writer.flush()
        assert_enforced(ledger_conn, ledger_settings, run.run_id, pack_hash, outputs[0], outputs[1])


def test_openai_agents_with_ledger_run_hooks_surface_the_denial(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    pack_hash = publish(ledger_conn, ledger_settings)
    BODIES.clear()
    run, result, model = _openai("failure_error_function", "oa-enforced", LedgerRunHooks())
    assert result.final_output == "done" and BODIES == ["refund 8"]
    outputs = _outputs(model)
    writer.flush()
    assert_enforced(ledger_conn, ledger_settings, run.run_id, pack_hash, outputs[0], outputs[1])


def test_openai_agents_ledger_guardrail_decides_undecorated_tools(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """Plain function tools with `ledger_guardrail` and LedgerRunHooks: the guardrail decides
    each call before its body and the denial and the hold become the tool output the model
    reads; the hooks take the guardrail's call over (one record per call) and end it."""
    pack_hash = publish(ledger_conn, ledger_settings)
    BODIES.clear()
    run, result, model = _openai("guardrail", "oa-enforced", LedgerRunHooks())
    assert result.final_output == "done" and len(model.inputs) == 4
    assert BODIES == ["refund 8"]
    outputs = _outputs(model)
    assert outputs[2] == "refunded 8"
    writer.flush()
    assert_enforced(ledger_conn, ledger_settings, run.run_id, pack_hash, outputs[0], outputs[1])
    events = stored(ledger_conn, run.run_id)
    assert [e.data.tool_call_id for e in events if e.type == "policy.decided"] == [
        "call_1", "call_2", "call_3"]
    (ended,) = [e.data for e in events if e.type == "tool.call.ended"]
    assert (ended.tool_call_id, ended.status) == ("call_3", "ok")


def test_mcp_call_tool_surfaces_real_denial_and_hold(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    pack_hash = publish(ledger_conn, ledger_settings)
    BODIES.clear()
    server = MCPServer("payments")

    @server.tool(name="wire")
    def wire(to: str) -> str:
        """Wire money (the server's body: never reached for a refused call)."""
        BODIES.append(f"wire {to}")
        return f"wired {to}"

    @server.tool(name="refund")
    def refund(order_id: str, amount_usd: int) -> str:
        """Refund an order."""
        BODIES.append(f"refund {order_id}")
        return f"refunded {order_id}"

    @server.tool(name="wire_gated")
    @surface_refusals
    def wire_gated(to: str) -> str:
        """The server's own `@ledger.tool`: its hooks refuse it, the server answers isError."""
        return _wire(to)

    async def main() -> Any:
        results: list[Any] = []
        async with Client(server) as client, hooks.run(agent="mcp-enforced") as run:
            session = LedgerMCPSession(client.session, server="payments")
            for name, arguments in SCRIPT:  # the agent goes on after each refusal
                results.append(await session.call_tool(name, arguments))
        async with Client(server) as client, hooks.run(agent="mcp-enforced") as served:
            results.append(await client.session.call_tool("wire_gated", {"to": "acct-9"}))
        return run, served, results

    run, served, results = asyncio.run(main())
    texts = [" ".join(c.text for c in r.content) for r in results]
    assert [r.is_error for r in results] == [True, True, False, True], texts
    assert BODIES == ["refund 8"]  # refused requests were never sent, nor bodies run
    assert "denied by policy" in texts[3] and "tools.allow" in texts[3]
    writer.flush()
    assert_enforced(ledger_conn, ledger_settings, run.run_id, pack_hash, texts[0], texts[1])
    (served_decision,) = [e.data for e in stored(ledger_conn, served.run_id)
                          if e.type == "policy.decided"]
    assert (served_decision.tool, served_decision.decision) == ("wire", "deny")
