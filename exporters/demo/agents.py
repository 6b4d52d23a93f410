"""The two demo agents, with scripted models and no network.

The sales-ops agent is a real LangGraph StateGraph over a scripted model when LangGraph is
installed (`agent-ledger[langgraph]`, as `make demo` has it; exporters/demo/sales_graph.py),
and the same loop on the plain hooks otherwise, so `pip install agent-ledger` then
`ledger demo` tells the same story with the same findings and undo plan. Either way its tool
calls go through the native hooks with effect contracts (pre-state captured). The support
agent is plain Python on the native API, with approvals bound to exact arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

import replay.undo.examples.demo  # noqa: F401  (registers the CRM/payments probes and compensators)
from exporters.demo.script import ModelTurn, Step, script
from exporters.demo.world import World
from ledger import hooks
from ledger.note import Signer
from replay.undo.capture import call_with_contract
from replay.undo.contracts import ContractRegistry
from replay.undo.probes import UndoContext

__all__ = ["Step", "langgraph_installed", "run_sales_ops", "run_support"]


def langgraph_installed() -> bool:
    """Whether the sales-ops agent runs as a LangGraph graph (else on the plain hooks)."""
    return find_spec("langgraph") is not None and find_spec("langchain_core") is not None


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
    turns = script(model, steps, final, tokens=900)

    def act(run: hooks.Run, name: str, args: dict[str, Any]) -> Any:
        return call_with_contract(run, registry, ctx, name, args, tools[name])

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
        if langgraph_installed():
            from exporters.demo.sales_graph import run_graph

            answer = run_graph(run, turns, request, act)
        else:
            answer = _run_plain(run, model, turns, act)
        run.message_output(answer)
    return run


def _run_plain(run: hooks.Run, model: str, turns: list[ModelTurn],
               act: Callable[[hooks.Run, str, dict[str, Any]], Any]) -> str:
    """The sales-ops loop on the plain hooks: each scripted model turn, then its tool calls."""
    for turn in turns:
        run.llm_call(model=model, response=turn.text or None, response_model=model,
                     input_tokens=turn.input_tokens, output_tokens=turn.output_tokens,
                     tool_calls=turn.calls)
        for call in turn.calls:
            act(run, call["name"], call["args"])
    return turns[-1].text


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
