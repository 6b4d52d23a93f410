"""An SK agent written from the docs records exactly what it did, attributed to its run."""

from __future__ import annotations

from decimal import Decimal

import ledger
from ledger.integrations.semantic_kernel import LedgerFilters

from .skkit import BODIES, MODEL, Scripted, auto, check, events, kernel, types

PROMPT = "{{$input}}"


async def test_auto_function_calling_is_recorded_exactly(writer, ledger_conn, ledger_settings):
    BODIES.clear()
    k = kernel()
    LedgerFilters().install(k)
    async with ledger.run(agent="sk-billing", user="alice", roles=["support"]) as run:
        result = await k.invoke_prompt(PROMPT, arguments=auto() | {"input": "refund order A1"})
    assert str(result) == "done: order A1: 20 USD; refunded A1 (20 USD)"
    assert BODIES == ["A1"]
    assert run.flush()
    evs = events(ledger_conn, run.run_id)
    # the model's two calls run concurrently (SK gathers them): starts and ends interleave
    assert types(evs)[:4] == ["run.started", "prompt.resolved", "llm.call.started",
                              "llm.call.ended"]
    assert sorted(types(evs)[4:8]) == ["tool.call.ended"] * 2 + ["tool.call.started"] * 2
    assert types(evs)[8:] == ["llm.call.started", "llm.call.ended", "run.ended"]
    assert {e.run_id for e in evs} == {run.run_id}
    assert {e.principal.initiating_user for e in evs} == {"alice"}
    starts = [e.data for e in evs if e.type == "tool.call.started"]
    assert sorted((s.tool, s.tool_call_id, s.args["order_id"]) for s in starts) == [
        ("billing-lookup", "call_refundorderA1_00", "A1"),
        ("billing-refund", "call_refundorderA1_01", "A1")]
    ends = {e.data.tool_call_id: e.data for e in evs if e.type == "tool.call.ended"}
    assert ends["call_refundorderA1_01"].status == "ok"
    assert ends["call_refundorderA1_01"].result == "refunded A1 (20 USD)"
    order = [(e.type, e.data.tool_call_id) for e in evs if e.type.startswith("tool.call")]
    for start in starts:  # each intent stored before its outcome
        call = start.tool_call_id
        assert order.index(("tool.call.started", call)) < order.index(("tool.call.ended", call))
    llm = [e.data for e in evs if e.type == "llm.call.ended"]
    assert [(u.usage.input_tokens, u.usage.output_tokens) for u in llm] == [(120, 30), (200, 12)]
    assert [u.response_model for u in llm] == [MODEL, MODEL]
    assert [[p.tool_call_id for p in u.proposed_tool_calls] for u in llm] == [
        ["call_refundorderA1_00", "call_refundorderA1_01"], []]
    end = evs[-1].data
    assert (end.status, end.totals.llm_calls, end.totals.tool_calls) == ("succeeded", 2, 2)
    assert (end.totals.input_tokens, end.totals.output_tokens) == (320, 42)
    # gpt-4o-mini: 0.15 / 0.60 USD per million tokens
    assert Decimal(end.totals.cost_usd) == Decimal("320") * Decimal("0.15") / 10**6 + \
        Decimal("42") * Decimal("0.60") / 10**6
    prompt = next(e.data for e in evs if e.type == "prompt.resolved")
    assert prompt.variables["input"] == "refund order A1"
    code, verdicts = check(ledger_settings, run.run_id)
    assert code == 0, verdicts
    assert verdicts == {"policy.in_force": "unknown"}  # no pack published: nothing to judge


class Answers(Scripted):
    plan = staticmethod(lambda user: [])  # answers at once, no tool calls


async def test_a_prompt_without_tools_is_one_model_call(writer, ledger_conn):
    k = kernel(Answers)
    LedgerFilters(prompt_version="v3").install(k)
    async with ledger.run(agent="sk-chat", user="frank") as run:
        await k.invoke_prompt("Summarise: {{$input}}", input="tool results none")
    assert run.flush()
    evs = events(ledger_conn, run.run_id)
    assert types(evs) == ["run.started", "prompt.resolved", "llm.call.started", "llm.call.ended",
                          "run.ended"]
    prompt = evs[1].data
    assert (prompt.version, prompt.variables) == ("v3", {"input": "tool results none"})
    ended = evs[3].data
    usage = (ended.usage.input_tokens, ended.usage.output_tokens)
    assert (ended.output, usage) == ("done: ", (120, 30))
    assert (ended.finish_reason, tuple(ended.proposed_tool_calls)) == ("stop", ())
    assert ended.cost is not None and ended.call_id == evs[2].data.call_id
    assert evs[-1].data.totals.llm_calls == 1
