"""Replay fold: timeline, pairing, totals, versions, gaps, at_seq, determinism."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from replay.model import to_jsonable
from replay.state import fold, stored
from replay.synth import RunBuilder


def _run() -> RunBuilder:
    b = RunBuilder(prompt_version="v3", contract_digest="d1")
    b.start()
    b.message("please refund order 7")
    b.prompt("support", "v3")
    b.llm(tokens=(100, 20), cost="0.0125")
    first = b.tool_start("refund", {"order": 7, "amount_usd": 50})
    b.tool_end(first, "refund", status="error", result=None, seconds=1.5)
    b.tool("refund", {"order": 7, "amount_usd": 50}, call_id=first, attempt=2, seconds=0.5)
    b.llm(tokens=None, cost=None)
    b.end()
    return b


def test_fold_pairs_calls_and_totals() -> None:
    s = fold(stored(_run().events))
    assert [t.attempt for t in s.tool_calls] == [1, 2]
    assert [t.status for t in s.tool_calls] == ["error", "ok"]
    assert s.tool_calls[0].duration_ns == 1_500_000_000
    assert s.totals.total_tokens == 120 and s.totals.cost_usd == "0.0125"
    assert s.totals.llm_calls_without_usage == 1 and s.totals.llm_calls_without_cost == 1
    assert s.versions.prompt_version == "v3" and s.versions.tool_contract_digest == "d1"
    assert s.run.initiating_user == "alice" and s.run.ended and s.complete
    assert s.messages[0].trust == "trusted" and s.prompts[0].version == "v3"
    assert [e.seq for e in s.timeline] == list(range(len(s.timeline)))


def test_at_seq_gives_state_as_of_event() -> None:
    events = _run().events
    s = fold(stored(events), at_seq=5)
    assert s.at_seq == 5 and len(s.timeline) == 6
    assert s.open_tool_calls == ("call2#1",)
    assert not s.run.ended and not s.complete


def test_gaps_detected() -> None:
    b = RunBuilder()
    b.start()
    b.tool("search", {"q": 1})
    b.gap()
    b.end()
    events = b.events[:1] + b.events[2:]  # drop tool.call.started: hole in run_seq
    s = fold(stored(events))
    reasons = [g.reason for g in s.gaps]
    assert "run_seq discontinuity" in reasons
    assert any("without start" in r for r in reasons)
    assert "writer buffer overflow" in reasons
    assert any(r.startswith("run.ended declares") for r in reasons) is False


def test_event_count_mismatch_is_a_gap() -> None:
    b = RunBuilder()
    b.start()
    b.end()
    b.events[1] = b.events[1].model_copy(
        update={"data": b.events[1].data.model_copy(update={"event_count": 5})}
    )  # type: ignore[attr-defined]
    s = fold(stored(b.events))
    assert s.gaps and s.gaps[0].reason.startswith("run.ended declares 5")


def test_fold_is_deterministic_and_order_independent() -> None:
    events = stored(_run().events)
    a = fold(events)
    b = fold(list(reversed(events)))
    assert a == b
    assert json.dumps(to_jsonable(a), sort_keys=True) == json.dumps(to_jsonable(b), sort_keys=True)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["tool", "llm", "msg", "open"]), max_size=20), st.integers(0, 40))
def test_fold_twice_identical(script: list[str], cut: int) -> None:
    b = RunBuilder()
    b.start()
    for step in script:
        if step == "tool":
            b.tool("search", {"q": len(b.events)})
        elif step == "llm":
            b.llm()
        elif step == "msg":
            b.message("x", trust="untrusted")
        else:
            b.tool_start("slow", {})
    b.end()
    events = stored(b.events)
    one, two = fold(events, at_seq=cut), fold(events, at_seq=cut)
    assert one == two
    assert json.dumps(to_jsonable(one)) == json.dumps(to_jsonable(two))
    assert len(one.timeline) == min(cut + 1, len(events))
