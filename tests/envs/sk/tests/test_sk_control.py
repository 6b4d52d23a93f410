"""Live control through the SK filters: a pack's deny and hold become the function's result
for the model (the function never runs), and a real stop terminates the loop and ends the run
`stopped`, surfacing `RunStopped` behind SK's `KernelInvokeException`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from semantic_kernel.exceptions import KernelInvokeException

import ledger
from ledger.db.connect import connect
from ledger.integrations.semantic_kernel import LedgerFilters, stop_of
from ledger.stops import request_stop
from ledger.store.sequencer import try_sequence
from replay.policy import load_pack_text
from replay.policy.published import publish_policy

from .skkit import BODIES, Billing, Call, Scripted, auto, check, events, kernel, order_of, types

PACK = """\
policy: {id: sk-enforced, version: "1"}
mode: enforce
scope: {agents: [sk-enforced]}
tools: {allow: [billing-refund, billing-lookup]}
policies:
  require_approval_for:
    - {action: billing-refund, threshold_usd: 100}
"""


class Enforced(Scripted):
    """Proposes a wire (not allowed), a refund over the threshold, and one under it."""

    plan = staticmethod(lambda user: [[
        ("billing-wire", {"to": "acct-9"}),
        ("billing-refund", {"order_id": "7", "amount_usd": 150}),
        ("billing-refund", {"order_id": "8", "amount_usd": 20})]])


def _two_turns(user: str) -> list[list[Call]]:
    return [[("billing-lookup", {"order_id": order_of(user)})],
            [("billing-refund", {"order_id": order_of(user), "amount_usd": 20})]]


class TwoTurns(Scripted):
    plan = staticmethod(_two_turns)


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    BODIES.clear()
    Billing.on_lookup.clear()
    yield
    Billing.on_lookup.clear()


def _wait(check_: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check_():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


async def test_deny_and_hold_become_the_functions_result(writer, ledger_conn, ledger_settings):
    pack = load_pack_text(PACK, "sk.yaml")
    pack_hash = publish_policy(ledger_conn, ledger_settings, pack).policy_hash
    try_sequence(ledger_conn, ledger_settings, wait=True)
    k = kernel(Enforced)
    LedgerFilters().install(k)
    async with ledger.run(agent="sk-enforced", user="bob") as run:
        result = await k.invoke_prompt("{{$input}}", arguments=auto() | {"input": "pay"})
    assert BODIES == ["8"]  # neither the wire nor the held refund ran
    text = str(result)
    assert "ledger: tool billing-wire denied by policy" in text and "tools.allow" in text
    assert "ledger: tool billing-refund needs approval" in text and "approval_id=" in text
    assert "refunded 8 (20 USD)" in text
    assert run.flush()
    evs = events(ledger_conn, run.run_id)
    decided = [e.data for e in evs if e.type == "policy.decided"]
    assert sorted((d.tool, d.decision, d.tool_call_id) for d in decided) == [
        ("billing-refund", "allow", "call_pay_02"),
        ("billing-refund", "require_approval", "call_pay_01"),
        ("billing-wire", "deny", "call_pay_00")]
    assert {d.pack_hash for d in decided} == {pack_hash}
    hold = next(d for d in decided if d.decision == "require_approval")
    assert f"approval_id={hold.approval_id}" in text and f"args_hash={hold.args_hash}" in text
    started = [e.data.tool_call_id for e in evs if e.type == "tool.call.started"]
    assert started == ["call_pay_02"]
    assert evs[-1].type == "run.ended" and evs[-1].data.status == "succeeded"
    assert {e.principal.initiating_user for e in evs} == {"bob"}
    code, verdicts = check(ledger_settings, run.run_id)
    assert verdicts["enforcement.decisions"] == "pass", verdicts
    assert code == 0, verdicts


async def test_a_real_stop_terminates_the_loop(writer, ledger_conn, ledger_settings):
    stops: list[Any] = []

    def operator_stops() -> None:  # while the lookup runs, on-call stops the run
        run = ledger.current_run()
        assert run is not None and run.flush()
        with connect(ledger_settings) as conn:
            stops.append(request_stop(conn, ledger_settings, target=f"run:{run.run_id}",
                                      reason="refund storm", requested_by="oncall"))
        _wait(lambda: writer.live.find(run) is not None, "the stop cached")

    Billing.on_lookup.append(operator_stops)
    k = kernel(TwoTurns)
    LedgerFilters().install(k)
    with pytest.raises(KernelInvokeException) as raised:
        async with ledger.run(agent="sk-stop", user="carol") as run:
            await k.invoke_prompt("{{$input}}", arguments=auto() | {"input": "refund order S1"})
    stop = stop_of(raised.value)
    assert stop is not None and stop.run_id == run.run_id
    assert BODIES == []  # the refund of the next turn never ran
    assert run.flush()
    evs = events(ledger_conn, run.run_id)
    assert types(evs) == ["run.started", "prompt.resolved", "llm.call.started", "llm.call.ended",
                          "tool.call.started", "tool.call.ended", "run.ended"]
    assert evs[4].data.tool_call_id == "call_refundorderS1_00"
    end = evs[-1].data
    assert end.status == "stopped" and end.stopped_by.requested_by == "oncall"
    assert end.stopped_by.stop_event_id == stops[0].event_id
    assert (end.totals.llm_calls, end.totals.tool_calls) == (1, 1)
