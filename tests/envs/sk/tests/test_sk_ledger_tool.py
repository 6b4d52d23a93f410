"""Kernel functions that are also `@ledger.tool` functions (as docs/hooks.md advises for
tools): the wrapper records and decides each call once, the filters do not record it again,
and its refusal reaches the model as the refusal's text (SK would turn it into a generic
error text)."""

from __future__ import annotations

from semantic_kernel import Kernel
from semantic_kernel.functions import kernel_function

import ledger
from ledger.integrations.semantic_kernel import LedgerFilters
from ledger.store.sequencer import try_sequence
from replay.policy import load_pack_text
from replay.policy.published import publish_policy

from .skkit import BODIES, MODEL, Scripted, auto, check, events

PACK = """\
policy: {id: sk-ledger-tools, version: "1"}
mode: enforce
scope: {agents: [sk-ledger-tools]}
tools: {allow: [billing-refund]}
"""


class LedgerBilling:
    @kernel_function(description="Wire money.")
    @ledger.tool(name="billing-wire")
    def wire(self, to: str) -> str:
        BODIES.append(f"wire {to}")
        return f"wired to {to}"

    @kernel_function(description="Refund an order.")
    @ledger.tool(name="billing-refund")
    def refund(self, order_id: str, amount_usd: int) -> str:
        BODIES.append(order_id)
        return f"refunded {order_id}"


class WireThenRefund(Scripted):
    plan = staticmethod(lambda user: [[("billing-wire", {"to": "acct-9"}),
                                       ("billing-refund", {"order_id": "8", "amount_usd": 20})]])


async def test_ledger_tools_are_recorded_once_and_refusals_reach_the_model(
        writer, ledger_conn, ledger_settings):
    publish_policy(ledger_conn, ledger_settings, load_pack_text(PACK, "sk.yaml"))
    try_sequence(ledger_conn, ledger_settings, wait=True)
    BODIES.clear()
    k = Kernel()
    k.add_service(WireThenRefund(ai_model_id=MODEL))
    k.add_plugin(LedgerBilling(), plugin_name="billing")
    LedgerFilters().install(k)
    async with ledger.run(agent="sk-ledger-tools", user="gus") as run:
        result = await k.invoke_prompt("{{$input}}", arguments=auto() | {"input": "go"})
        direct = await k.invoke(plugin_name="billing", function_name="refund", order_id="9",
                                amount_usd=5)
    assert str(direct) == "refunded 9"
    assert BODIES == ["8", "9"]
    assert "ledger: tool billing-wire denied by policy" in str(result)
    assert run.flush()
    evs = events(ledger_conn, run.run_id)
    starts = [(e.data.tool, e.data.args) for e in evs if e.type == "tool.call.started"]
    assert starts == [("billing-refund", {"order_id": "8", "amount_usd": 20}),
                      ("billing-refund", {"order_id": "9", "amount_usd": 5})]
    decided = sorted((e.data.tool, e.data.decision) for e in evs if e.type == "policy.decided")
    assert decided == [("billing-refund", "allow"), ("billing-refund", "allow"),
                       ("billing-wire", "deny")]
    assert evs[-1].data.status == "succeeded" and evs[-1].data.totals.tool_calls == 2
    code, verdicts = check(ledger_settings, run.run_id)
    assert verdicts["enforcement.decisions"] == "pass" and code == 0, verdicts
