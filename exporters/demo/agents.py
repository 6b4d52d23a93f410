"""The two demo agents, with scripted models and no network.

The sales-ops agent is a real LangGraph StateGraph whose model is langchain-core's
GenericFakeChatModel replaying a script; its model calls are recorded by the LangChain
integration and its tool calls by the native hooks with effect contracts (pre-state captured).
The support agent is plain Python on the native API, with approvals bound to exact arguments.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph

import replay.undo.examples.demo  # noqa: F401  (registers the CRM/payments probes and compensators)
from exporters.demo.world import World
from ledger import hooks
from ledger.integrations.langchain import LedgerCallbackHandler
from ledger.note import Signer
from replay.undo.capture import call_with_contract
from replay.undo.contracts import ContractRegistry
from replay.undo.probes import UndoContext

__all__ = ["Step", "run_sales_ops", "run_support"]

Step = tuple[str, dict[str, Any]]  # (tool name, args) the scripted model proposes


class _State(TypedDict):
    messages: Annotated[list[BaseMessage], operator.add]


def _script(model: str, steps: list[list[Step]], final: str, tokens: int) -> GenericFakeChatModel:
    replies: list[AIMessage] = []
    for i, batch in enumerate(steps):
        calls = [{"name": n, "args": a, "id": f"call_{i}_{j}"} for j, (n, a) in enumerate(batch)]
        replies.append(_reply(model, "", calls, tokens + 180 * i))
    replies.append(_reply(model, final, [], tokens + 180 * len(steps)))
    return GenericFakeChatModel(messages=iter(replies))


def _reply(model: str, text: str, calls: list[dict[str, Any]], tokens: int) -> AIMessage:
    return AIMessage(
        content=text,
        tool_calls=calls,
        usage_metadata={"input_tokens": tokens, "output_tokens": 60, "total_tokens": tokens + 60},
        response_metadata={"model_name": model},
    )


def _tools(world: World) -> dict[str, Callable[..., Any]]:
    return {
        "crm.update_field": world.update_field,
        "crm.export_contacts": world.export_contacts,
        "email.send": world.send_email,
        "payments.refund": world.refund,
        "orders.lookup": world.lookup_order,
    }


def run_sales_ops(
    world: World,
    registry: ContractRegistry,
    *,
    user: str,
    prompt_version: str,
    model: str,
    policy_hash: str,
    request: str,
    request_trust: str,
    request_origin: str,
    steps: list[list[Step]],
    final: str,
    user_token: str | None = None,
) -> hooks.Run:
    """One sales-ops run: a LangGraph agent loop over a scripted model."""
    tools = _tools(world)
    ctx = UndoContext(world.conn)
    chat = _script(model, steps, final, tokens=900)
    handler = LedgerCallbackHandler()

    with hooks.run(
        agent="sales-ops",
        user=user,
        user_token=user_token,
        roles=["sales"],
        prompt_version=f"sales-ops/{prompt_version}",
        model=model,
        policy_hash=policy_hash,
        task=request[:80],
        agent_version="2.3.0",
    ) as run:
        run.prompt(
            "sales-ops", prompt_version, f"You are the sales-ops assistant ({prompt_version})."
        )
        run.message_input(request, trust=request_trust, origin=request_origin)  # type: ignore[arg-type]

        def agent(state: _State) -> _State:
            return {"messages": [chat.invoke(state["messages"], config={"callbacks": [handler]})]}

        def act(state: _State) -> _State:
            last = state["messages"][-1]
            out: list[BaseMessage] = []
            for call in getattr(last, "tool_calls", []):
                name, args = call["name"], call["args"]
                result = call_with_contract(run, registry, ctx, name, args, tools[name])
                out.append(ToolMessage(content=str(result)[:500], tool_call_id=call["id"]))
            return {"messages": out}

        def route(state: _State) -> str:
            return "act" if getattr(state["messages"][-1], "tool_calls", None) else END

        graph = StateGraph(_State)
        graph.add_node("agent", agent)
        graph.add_node("act", act)
        graph.add_edge(START, "agent")
        graph.add_conditional_edges("agent", route, {"act": "act", END: END})
        graph.add_edge("act", "agent")
        result = graph.compile().invoke({"messages": [HumanMessage(request)]})
        run.message_output(str(result["messages"][-1].content))
    return run


def run_support(
    world: World,
    registry: ContractRegistry,
    *,
    user: str,
    prompt_version: str,
    model: str,
    policy_hash: str,
    request: str,
    order_id: str,
    refund_usd: str | None,
    approver: str | None = None,
    approver_key: Signer | None = None,
    trust_root: str | None = None,
    lookups: int = 1,
    tokens: int = 1400,
    user_token: str | None = None,
) -> hooks.Run:
    """One support run on the native API: look up the order, maybe refund (with approval)."""
    tools = _tools(world)
    ctx = UndoContext(world.conn)
    with hooks.run(
        agent="support",
        user=user,
        user_token=user_token,
        roles=["support"],
        prompt_version=f"support/{prompt_version}",
        model=model,
        policy_hash=policy_hash,
        task=request[:80],
        agent_version="1.8.1",
    ) as run:
        run.prompt("support", prompt_version, f"You are the support assistant ({prompt_version}).")
        run.message_input(request, trust="untrusted", origin="chat:customer")
        for i in range(lookups):
            run.llm_call(
                model=model,
                request={"messages": i + 1},
                response={"tool_calls": [{"name": "orders.lookup"}]},
                input_tokens=tokens * (i + 1),
                output_tokens=80,
            )
            call_with_contract(
                run, registry, ctx, "orders.lookup", {"order_id": order_id}, tools["orders.lookup"]
            )
        if refund_usd is not None:
            args = {"charge_id": f"ch_{order_id}", "amount_usd": refund_usd}
            run.llm_call(
                model=model,
                request={"messages": lookups + 1},
                response={"tool_calls": [{"name": "payments.refund", "args": args}]},
                input_tokens=tokens,
                output_tokens=90,
            )
            if approver is not None:
                approval = run.request_approval(
                    "payments.refund",
                    args,
                    reason=f"refund of ${refund_usd}",
                    amount_usd=refund_usd,
                )
                hooks.decide(  # signed: replay checks key and roles against the registry
                    approval.approval_id,
                    approver=approver,
                    decision="approved",
                    signer=approver_key,
                    trust_root=trust_root,
                )
            call_with_contract(
                run,
                registry,
                ctx,
                "payments.refund",
                args,
                tools["payments.refund"],
                lambda r: (r["refund_id"],),
            )
        run.message_output("Done. Anything else?")
    return run
