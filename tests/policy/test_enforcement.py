"""`enforcement.decisions` from the attacker's side: a hostile agent host holds writer
credentials and records whatever decisions suit it. Runs are recorded through the real hooks
writer into PostgreSQL; the rule is judged from what was stored (replay.policy.enforcement).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from replay.dbread import fold_run
from replay.policy import check_run, compile_pack, load_pack_text
from replay.policy.inforce import PacksInForce
from replay.policy.precall import ApprovalGrant, LiveBasis, Proposed, compile_precall, decide
from replay.policy.published import publish_policy
from tests.replay.conftest_db import llm, record, spec, tool

PACK = textwrap.dedent("""
    mode: enforce
    tools: {allow: [search, refund]}
    max_tool_calls: 5
    policies: {require_approval_for: [{action: refund, threshold_usd: 100}]}
""")
LOADED = load_pack_text(PACK, "enforced.yaml")
OTHER = load_pack_text("mode: enforce\ntools: {allow: ['*']}\n", "lenient.yaml")
Step = Callable[[hooks.Run], None]


def decided(tool_: str, args: Any, call_id: str, *, basis: LiveBasis | None = None,
            pack: Any = LOADED, **override: Any) -> Step:
    """Record policy.decided as the evaluator gives it (then `override` lies about it)."""

    def step(run: hooks.Run) -> None:
        b = basis or LiveBasis()
        proposed = Proposed(tool_, args, tool_call_id=call_id)
        data = decide(compile_precall(pack), b, proposed).event_data(proposed, b)
        run.record("policy.decided", {**data, **override})

    return step


def judged(conn: psycopg.Connection, run_id: str) -> tuple[str, str, tuple[str, ...]]:
    state = fold_run(conn, UUID(run_id))
    assert state is not None
    v = {x.rule_id: x for x in check_run(compile_pack(LOADED), state)}["enforcement.decisions"]
    return v.outcome, v.explanation, v.evidence


def ids_of(conn: psycopg.Connection, run_id: str, kind: str) -> list[str]:
    state = fold_run(conn, UUID(run_id))
    assert state is not None
    return [e.event_id for e in state.timeline if e.type == kind]


def test_a_run_whose_calls_were_decided_first_passes(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    unknown_cost = LiveBasis(unknown_cost_calls=1)  # a model call without usage went before
    rid = record(spec(llm(tokens=None), decided("search", {"q": "a"}, "c1", basis=unknown_cost),
                      tool("search", {"q": "a"}, call_id="c1"),
                      decided("refund", {"amount_usd": 5}, "c2", basis=LiveBasis(
                          tool_calls=1, unknown_cost_calls=1, total_tokens=10**6)),  # overstated
                      tool("refund", {"amount_usd": 5}, call_id="c2")))
    outcome, why, _ = judged(ledger_conn, rid)
    assert (outcome, why) == ("pass", "2 call(s), each decided before it ran "
                                      f"under pack {LOADED.policy_hash[:12]}")


def held_then_approved(approval_id: str | None = None, approver: str = "bob") -> list[Step]:
    """A refund held for approval, approved by bob, decided again with the grant, run."""
    args = {"amount_usd": 500}
    grant: dict[str, str] = {}

    def approve(run: hooks.Run) -> None:
        approval = run.request_approval({"name": "refund", "args": args, "id": "c3"})
        grant["id"] = approval.approval_id
        grant["event"] = str(hooks.decide(approval.approval_id, approver="bob",
                                          roles=["finance_lead"]))

    def again(run: hooks.Run) -> None:
        cited = ApprovalGrant(approval_id or grant["id"], grant["event"], approver)
        decided("refund", args, "c3", basis=LiveBasis(approval=cited))(run)

    return [decided("refund", args, "c3"), approve, again, tool("refund", args, call_id="c3")]


def test_a_held_call_runs_after_its_approval_and_not_on_a_phantom_one(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    assert judged(ledger_conn, record(spec(*held_then_approved())))[0] == "pass"
    for phantom in (held_then_approved("ap-never-decided"), held_then_approved(approver="eve")):
        outcome, why, _ = judged(ledger_conn, record(spec(*phantom)))
        assert outcome == "fail"
        assert why.startswith("decision for refund (c3) relies on approval ")
        assert why.endswith("which the record does not show granted for this call before it")


def test_removed_late_forged_and_understated_decisions_fail(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    runs = {
        "removed": [tool("search", {"q": "a"}, call_id="c1")],
        "late": [tool("search", {"q": "a"}, call_id="c1"), decided("search", {"q": "a"}, "c1")],
        "other_pack": [decided("search", {"q": "a"}, "c1", pack=OTHER),
                       tool("search", {"q": "a"}, call_id="c1")],
        "lied_allow": [decided("rm", {}, "c1", decision="allow", would_be="allow", rules=[]),
                       tool("rm", {}, call_id="c1")],
        "understated": [decided("search", {"q": "x"}, "c0"), tool("search", {"q": "x"},
                                                                     call_id="c0"),
                        decided("search", {"q": "a"}, "c1"),
                        tool("search", {"q": "a"}, call_id="c1")],
        "other_args": [decided("search", {"q": "a"}, "c1"),
                       tool("search", {"q": "b"}, call_id="c1")],
    }
    got = {name: judged(ledger_conn, record(spec(*steps))) for name, steps in runs.items()}
    assert {k: v[0] for k, v in got.items()} == dict.fromkeys(runs, "fail")
    assert got["removed"][1] == "search (c1) ran without a policy decision before it (none)"
    assert got["late"][1] == "search (c1) ran without a policy decision before it (only after it)"
    assert len(got["late"][2]) == 2  # the call and the late decision
    assert got["other_pack"][1] == (f"search (c1) was decided under pack "
                                    f"{OTHER.policy_hash[:12]}, pack in force is "
                                    f"{LOADED.policy_hash[:12]}")
    assert "re-evaluates to deny (tools.allow), recorded allow" in got["lied_allow"][1]
    assert got["understated"][1] == ("decision for search (c1) understates the record: "
                                     "tool_calls 0 < 1; tool_calls_of_tool 0 < 1")
    assert got["other_args"][1].startswith("decision ")
    assert "not the call that ran (search (c1))" in got["other_args"][1]


def test_a_denied_call_whose_body_ran_fails(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    rid = record(spec(decided("rm", {}, "c1"), tool("rm", {}, call_id="c1")))
    outcome, why, evidence = judged(ledger_conn, rid)
    assert (outcome, why) == ("fail", "rm (c1) was decided deny, and its body ran (ended ok)")
    assert list(evidence) == ids_of(ledger_conn, rid, "policy.decided") + ids_of(
        ledger_conn, rid, "tool.call.started")


def test_what_if_lists_the_calls_the_pack_would_block(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    rid = record(spec(tool("search", {"q": 1}), tool("rm", {"id": 7}), tool("search", {})))
    state = fold_run(ledger_conn, UUID(rid))
    assert state is not None
    own = {x.rule_id for x in check_run(compile_pack(LOADED), state)}
    assert "enforcement.would_block" not in own  # a what-if question only
    v = {x.rule_id: x for x in check_run(compile_pack(LOADED, what_if=True), state)}[
        "enforcement.would_block"]
    assert v.outcome == "fail"
    assert v.explanation.startswith("rm (") and v.explanation.endswith(
        ") would be deny: tools.allow")


def test_the_pack_in_force_is_the_latest_whose_scope_matches(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    anyone = publish_policy(ledger_conn, ledger_settings, load_pack_text("max_tool_calls: 9\n"))
    elsewhere = publish_policy(ledger_conn, ledger_settings, load_pack_text(
        "scope: {tenants: [not-this-one]}\nmax_tool_calls: 2\n"))
    scoped = publish_policy(ledger_conn, ledger_settings, load_pack_text(
        "scope: {agents: ['sales-*'], versions: ['2.*']}\nmax_tool_calls: 1\n"))
    assert None not in (elsewhere.event_id, anyone.event_id, scoped.event_id)
    tenant_only = publish_policy(ledger_conn, ledger_settings, load_pack_text(
        f"scope: {{tenants: [{ledger_settings.tenant}]}}\nmax_tool_calls: 3\n"))
    packs = PacksInForce(ledger_conn)
    origin, later = ledger_settings.origin(), 10**15

    def pack(agent: str | None, version: str | None) -> str | None:
        found = packs.in_force(origin, later, agent, version)
        return found.policy_hash if found is not None else None

    assert pack("sales-ops", "2.3") == tenant_only.policy_hash  # the latest, for every agent
    packs = PacksInForce(ledger_conn)
    before = tenant_only.event_id
    seq = ledger_conn.execute("SELECT seq FROM ledger_events WHERE event_id = %s",
                              (before,)).fetchone()
    assert seq is not None
    later = int(seq[0])  # judged as if the run started before the tenant-wide pack
    assert pack("sales-ops", "2.3") == scoped.policy_hash
    assert pack("sales-ops", "1.0") == anyone.policy_hash
    assert pack("support", None) == anyone.policy_hash
    assert pack(None, None) == anyone.policy_hash  # never the other tenant's scoped pack


def test_ledger_check_what_if_names_the_calls_an_enforced_pack_would_block(
    writer: Writer, cli: Callable[..., Any], tmp_path: Path
) -> None:
    rid = record(spec(tool("search", {"q": 1}), tool("rm", {"id": 7})))
    lenient, strict = tmp_path / "lenient.yaml", tmp_path / "strict.yaml"
    lenient.write_text("max_tool_calls: 9\n")
    strict.write_text(PACK)
    res = cli("check", "--json", "--run", rid, "--policy", str(lenient), "--what-if", str(strict))
    assert res.exit_code == 0, res.stderr
    (run,) = json.loads(res.stdout)["runs"]
    assert "enforcement.would_block" in run["what_if"]["diff"]["newly_failing"]
    (blocked,) = [v for v in run["what_if"]["verdicts"]
                  if v["rule_id"] == "enforcement.would_block"]
    assert blocked["explanation"].endswith(") would be deny: tools.allow")
