"""Hostile review of issue 16, reviewer r16b: forged, late, understated or duplicated decision
records against `enforcement.decisions` (approvals: test_review16b_approvals.py; pack modes, scope
and CEL: test_review16b_pack_and_cel.py).

Each test is written from the attacker's side (a hostile agent host holding writer
credentials) or from an honest user's, and asserts what SHOULD hold.
"""

from __future__ import annotations

import textwrap
import time
from typing import Any
from uuid import UUID

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.hooks.writer import Writer
from replay.dbread import fold_run
from replay.policy import check_run, compile_pack, load_pack_text
from replay.policy.enforcement import decisions
from replay.policy.loader import LoadedPack
from replay.policy.precall import (
    LiveBasis,
    Proposed,
    compile_precall,
    decide,
)
from tests.policy.test_enforcement import LOADED, Step, decided, judged
from tests.replay.conftest_db import llm, record, spec, tool


def judged_by(conn: psycopg.Connection, run_id: str, pack: LoadedPack) -> tuple[str, str]:
    state = fold_run(conn, UUID(run_id))
    assert state is not None
    v = {x.rule_id: x for x in check_run(compile_pack(pack), state)}["enforcement.decisions"]
    return v.outcome, v.explanation


def started(name: str, args: Any, call_id: str, **kw: Any) -> Step:
    def step(run: hooks.Run) -> None:
        run.tool_ended(run.tool_started(name, args, tool_call_id=call_id, **kw), result="done")

    return step


def test_decisions_recorded_in_a_batch_ahead_of_the_calls_cannot_dodge_max_tool_calls(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """max_tool_calls is 5. The host records six honest-looking allows (basis: nothing yet)
    up front, then runs six calls. Each decision's basis matches the record *at the decision*,
    so today the rule passes; the sixth call was never allowed by the pack."""
    steps = [decided("search", {"q": i}, f"c{i}") for i in range(6)]
    steps += [tool("search", {"q": i}, call_id=f"c{i}") for i in range(6)]
    outcome, why = judged(ledger_conn, record(spec(*steps)))[:2]
    assert outcome == "fail", why


def test_llm_spend_between_decision_and_call_is_not_hidden(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """Budget $1: decide first (spent $0), then burn $10k of LLM calls, then run the call."""
    pack = load_pack_text("mode: enforce\nbudgets: {max_usd_per_run: '1'}\n", "budget.yaml")
    steps: list[Step] = [decided("search", {"q": 1}, "c1", pack=pack)]
    steps += [llm(tokens=(10**8, 10**8)) for _ in range(2)]
    steps += [tool("search", {"q": 1}, call_id="c1")]
    outcome, why = judged_by(ledger_conn, record(spec(*steps)), pack)
    assert outcome == "fail", why


def test_an_enforced_deny_relabelled_shadow_does_not_license_the_body(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """The pack is `mode: enforce`; the decision says deny but `mode: shadow`. Only decision
    and hit ids are re-evaluated, never the mode, so the body-ran check is skipped today."""
    rid = record(spec(decided("rm", {}, "c1", mode="shadow"), tool("rm", {}, call_id="c1")))
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why


def test_a_call_labelled_read_only_still_needs_a_decision(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """`rm` is not on the allowlist; the host records it with side_effect=false and no
    decision. The rule skips it (`if not call.side_effect: continue`) and passes today."""
    rid = record(spec(started("rm", {"id": 7}, "c1", side_effect=False)))
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why


def test_two_decisions_with_different_answers_for_one_call_fail(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """A deny (the hook's) then an allow (the host's) for c1; only the last one is judged."""
    rid = record(spec(decided("search", {"q": 1}, "c1", basis=LiveBasis(tool_calls=99)),
                      decided("search", {"q": 1}, "c1"), tool("search", {"q": 1}, call_id="c1")))
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why


def tick(run: hooks.Run) -> None:
    run.record("custom", {"name": "tick"})


def test_an_understated_elapsed_time_is_caught_from_the_record(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """timeouts.overall_seconds: 60; the call starts ~10 minutes into the run (recorded
    times), the decision claims elapsed_seconds 0 and allows it."""
    pack = load_pack_text("mode: enforce\ntimeouts: {overall_seconds: 60}\n", "timeout.yaml")
    steps: list[Step] = [tick for _ in range(5)]
    steps += [decided("search", {"q": 1}, "c1", pack=pack),
              tool("search", {"q": 1}, call_id="c1")]
    rid = record(spec(*steps, step_ns=120 * 10**9))
    outcome, why = judged_by(ledger_conn, rid, pack)
    assert outcome == "fail", why


def test_an_llm_call_that_never_ended_counts_as_unknown_cost(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """on_unknown_cost: deny. The host starts an LLM call and never records its end (so its
    spend is invisible), then decides allow with unknown_cost_calls 0."""
    pack = load_pack_text("mode: enforce\nbudgets: {max_usd_per_run: '1', "
                          "on_unknown_cost: deny}\n", "unknown.yaml")

    def dangling(run: hooks.Run) -> None:
        run.llm_started(model="gpt-4o", request=[{"role": "user", "content": "hi"}])

    rid = record(spec(dangling, decided("search", {"q": 1}, "c1", pack=pack),
                      tool("search", {"q": 1}, call_id="c1")))
    outcome, why = judged_by(ledger_conn, rid, pack)
    assert outcome == "fail", why


def test_a_negative_llm_cost_cannot_offset_real_spend(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """Budget $1: one call recorded at $50, one at -$49.5; decision basis $0.5 allows."""
    pack = load_pack_text("mode: enforce\nbudgets: {max_usd_per_run: '1'}\n", "neg.yaml")

    def costed(amount: str) -> Step:
        def step(run: hooks.Run) -> None:
            cid = run.llm_started(model="gpt-4o")
            run.record("llm.call.ended", {
                "call_id": cid, "response_model": "gpt-4o",
                "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
                "cost": {"amount_usd": amount, "price_table_version": "x"}})

        return step

    rid = record(spec(costed("50"), costed("-49.5"),
                      decided("search", {"q": 1}, "c1", pack=pack,
                              basis=LiveBasis(cost_usd=__import__("decimal").Decimal("0.5"),
                                              total_tokens=4)),
                      tool("search", {"q": 1}, call_id="c1")))
    outcome, why = judged_by(ledger_conn, rid, pack)
    assert outcome == "fail", why


def test_a_model_cel_rule_is_re_evaluated_with_the_model_in_use_at_the_call(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """A tool_call CEL rule on versions.model. The run starts on gpt-4o (the hook decides
    allow), later records versions.model gpt-5; replay re-evaluates the earlier decision with
    the *latest* model (`_proposed` uses state.versions.model) and calls the honest run forged."""
    pack = load_pack_text(textwrap.dedent("""
        mode: enforce
        rules:
          - {id: model_pin, scope: tool_call, expr: 'versions.model == "gpt-4o"'}
    """), "model.yaml")

    def honest(run: hooks.Run) -> None:
        p = Proposed("search", {"q": 1}, tool_call_id="c1", model="gpt-4o")
        data = decide(compile_precall(pack), LiveBasis(), p).event_data(p, LiveBasis())
        assert data["decision"] == "allow"
        run.record("policy.decided", data)

    def switch(run: hooks.Run) -> None:  # e.g. a framework falling back to another model
        run.envelope["versions"] = {**run.envelope["versions"], "model": "gpt-5"}
        tick(run)

    try:
        rid = record(spec(honest, tool("search", {"q": 1}, call_id="c1"), switch))
    except Exception as exc:  # no event updates versions mid-run: nothing to show
        pytest.skip(f"no mid-run versions event: {exc}")
    state = fold_run(ledger_conn, UUID(rid))
    assert state is not None
    if state.versions.model == "gpt-4o":
        pytest.skip("versions.model does not change mid-run")
    outcome, why = judged_by(ledger_conn, rid, pack)
    assert outcome == "pass", why


def test_enforcement_decisions_is_not_quadratic_in_long_runs(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """5,000 decided calls: `enforcement.decisions` re-derives the observed basis by scanning
    every earlier call, LLM call and message for each call (O(n^2))."""
    pack = load_pack_text("mode: enforce\ntools: {allow: [search]}\n", "perf.yaml")
    n = 5000

    def many(run: hooks.Run) -> None:
        for i in range(n):
            b = LiveBasis(tool_calls=i, tool_calls_of_tool=i)
            p = Proposed("search", {"q": i}, tool_call_id=f"c{i}")
            run.record("policy.decided", decide(compile_precall(pack), b, p).event_data(p, b))
            run.tool_ended(run.tool_started("search", {"q": i}, tool_call_id=f"c{i}"),
                           result="done")

    rid = record(spec(many))
    state = fold_run(ledger_conn, UUID(rid))
    assert state is not None
    pre = compile_precall(pack)
    t0 = time.perf_counter()
    v = decisions(state, pre)
    took = time.perf_counter() - t0
    assert v.outcome == "pass", v.explanation
    assert took < 2.0, f"enforcement.decisions took {took:.1f}s for {n} calls"


def test_a_run_is_judged_by_the_pack_in_force_when_it_started(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Any
) -> None:
    """The host opens a run under a lenient enforced pack and keeps it open; the operator then
    publishes a strict one (rm no longer allowed). The host keeps deciding under the lenient
    pack and runs rm. By design (docs/hooks.md, docs/policy.md) a run is judged by the pack in
    force when it started, live and after the fact alike (the hooks pin it for the run; `ledger
    stop` is the immediate lever for a running run): `ledger check` picks the pack by the run's
    first event and the call, decided under that pack, passes. (Changed from the review's
    `fail`: the reviewer's finding 9 is the documented behaviour, not a flaw.)"""
    from replay.policy.published import publish_policy
    from replay.policy.service import check_in_force

    lenient = load_pack_text("mode: enforce\ntools: {allow: ['*']}\n", "lenient.yaml")
    strict = load_pack_text("mode: enforce\ntools: {allow: [search]}\n", "strict.yaml")
    publish_policy(ledger_conn, ledger_settings, lenient)

    def operator_tightens(run: hooks.Run) -> None:
        assert hooks.flush()
        publish_policy(ledger_conn, ledger_settings, strict)

    rid = record(spec(tick, operator_tightens, decided("rm", {}, "c1", pack=lenient),
                      tool("rm", {}, call_id="c1"), policy_hash=lenient.policy_hash))
    # the pack `ledger check` picks (replay/batch.py -> PacksInForce.judge), read directly:
    # check_in_force itself first dies on policy.decided (see the ledger check test below)
    from replay.policy.inforce import PacksInForce

    row = ledger_conn.execute("SELECT min(seq) FROM ledger_events WHERE run_id = %s",
                              (UUID(rid),)).fetchone()
    assert row is not None
    state = fold_run(ledger_conn, UUID(rid))
    assert state is not None
    pack, _named = PacksInForce(ledger_conn).judge(
        ledger_settings.origin(), int(row[0]), state.versions.policy_hashes_seen,
        state.timeline[0].event_id, agent=state.run.agent, version=state.run.agent_version)
    assert pack is not None
    assert pack.policy_hash == lenient.policy_hash
    v = {x.rule_id: x for x in check_run(pack, state)}["enforcement.decisions"]
    assert v.outcome == "pass", (pack.policy_hash[:12], v.explanation)
    assert check_in_force is not None


def test_ledger_check_judges_a_run_with_policy_decided_events(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Any, cli: Any
) -> None:
    """replay/fastdecode.py has no struct for policy.decided: the bulk path hands
    replay/state.py:_policy_decided a msgspec.Raw and `ledger check` dies with AttributeError.
    A writer may record policy.decided, so one such event in any run also blocks the audit of
    every other run checked with it."""
    import json

    from replay.policy.published import publish_policy

    publish_policy(ledger_conn, ledger_settings, LOADED)
    honest = record(spec(tool("search", {"q": 0}, call_id="c0"), policy_hash=LOADED.policy_hash))
    rid = record(spec(decided("search", {"q": 1}, "c1"), tool("search", {"q": 1}, call_id="c1"),
                      policy_hash=LOADED.policy_hash))
    res = cli("check", "--json")  # every run: one policy.decided must not sink the batch
    assert res.exit_code in (0, 1), (res.exit_code, res.stderr[-400:])
    runs = {r["run_id"]: r for r in json.loads(res.stdout)["runs"]}
    got = {v["rule_id"]: v["outcome"] for v in runs[rid]["verdicts"]}
    assert got["enforcement.decisions"] == "pass"
    # (changed from `fail`, fixc finding 4: the hooks now decide every start of a run under an
    # active pack, un-waited `run.tool_started` included, so this run carries the hook's own
    # decision; the bulk path judges it like any other)
    assert {v["rule_id"]: v["outcome"] for v in runs[honest]["verdicts"]}[
        "enforcement.decisions"] == "pass"
    state = fold_run(ledger_conn, UUID(honest))
    assert state is not None and [d.data.tool_call_id for d in state.decided] == ["c0"]


def test_one_allow_does_not_license_retries_past_max_tool_calls(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """max_tool_calls 5 counts retries. One allow for c1 (basis: nothing yet), then seven
    tool.call.started for c1. Every start is judged by that first decision (`before[-1]`),
    whose basis was true when recorded: the 6th and 7th starts ran with no decision that
    could have allowed them."""
    steps: list[Step] = [decided("search", {"q": 1}, "c1")]
    steps += [tool("search", {"q": 1}, call_id="c1") for _ in range(7)]
    rid = record(spec(*steps))
    state = fold_run(ledger_conn, UUID(rid))
    assert state is not None
    assert sum(e.type == "tool.call.started" for e in state.timeline) == 7
    # (the fold keeps ONE ToolCallRecord for the seven starts of c1: max_tool_calls sees 1)
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why


def test_a_forbidden_call_hidden_under_a_reused_tool_call_id_is_caught(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """The host decides `search` c1 (allow), runs `rm` as c1 attempt 1, then `search` as c1
    attempt 1. replay/state.py:_tool_started keys calls by (tool_call_id, attempt) and the
    second start silently overwrites the first: `rm` disappears from state.tool_calls, so
    neither enforcement.decisions nor tools.allow sees it."""
    rid = record(spec(decided("search", {"q": 1}, "c1"), tool("rm", {"id": 7}, call_id="c1"),
                      tool("search", {"q": 1}, call_id="c1")))
    state = fold_run(ledger_conn, UUID(rid))
    assert state is not None
    assert sum(e.type == "tool.call.started" for e in state.timeline) == 2
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why


def test_a_denied_call_started_and_never_ended_in_an_ended_run_fails(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """The hook's deny is recorded, the intent (tool.call.started) too, the body runs, and the
    host simply never records tool.call.ended; the run ends. `_body_ran` says `unknown`
    ("cannot tell whether its body ran"): the host turns every deny into an unknown."""
    rid = record(spec(decided("rm", {}, "c1"), tool("rm", {}, call_id="c1", ended=False)))
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why


def test_a_decision_recorded_in_another_run_does_not_cover_a_call(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """(holds today) the decision for c1 sits in run A, the call c1 in run B."""
    record(spec(decided("search", {"q": 1}, "c1")))
    rid = record(spec(tool("search", {"q": 1}, call_id="c1")))
    outcome, why = judged(ledger_conn, rid)[:2]
    assert (outcome, why) == ("fail", "search (c1) ran without a policy decision before it "
                                      "(none)")
