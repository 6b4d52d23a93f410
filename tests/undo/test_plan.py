"""Plan generation over a scripted agent's real run: ordering, drift, windows, SoD inputs."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from ledger import ids
from ledger.hooks import run
from ledger.store.read import run_events
from replay.undo.contracts import ContractRegistry
from replay.undo.model import UndoPlan
from replay.undo.plan import generate_plan, probe_requests
from replay.undo.probes import UndoContext, run_probes
from replay.undo.scope import load_others, load_scope
from tests.undo.conftest import Agent


def make_plan(
    conn: psycopg.Connection,
    registry: ContractRegistry,
    run_id: uuid.UUID,
    now: str | None = None,
    probe: bool = True,
) -> UndoPlan:
    scope_ids, events = load_scope(conn, [run_id])
    probes = run_probes(probe_requests(events, registry), UndoContext(conn=conn)) if probe else {}
    return generate_plan(
        events,
        registry,
        now=now or ids.format_timestamp(ids.now_ns()),
        scope={"runs": [str(run_id)]},
        probe_results=probes,
        others=load_others(conn, scope_ids, events),
        created_by="ivan",
    )


def by_call(plan: UndoPlan) -> dict[tuple[str, Any], Any]:
    """Steps keyed by (tool, order of the call): ('crm.update_field', 0) is the first update."""
    seen: dict[str, int] = {}
    out: dict[tuple[str, Any], Any] = {}
    for s in sorted(plan.steps, key=lambda s: s.step_id):
        n = seen.get(s.tool, 0)
        seen[s.tool] = n + 1
        out[(s.tool, n)] = s
    return out


def test_events_carry_contract_digest_and_pre_state(agent: Agent) -> None:
    run_id = agent.script()
    events = [s.event for s in run_events(agent.conn, run_id)]
    started = [e for e in events if e.type == "tool.call.started"]
    ended = [e for e in events if e.type == "tool.call.ended"]
    assert len(started) == len(ended) == 6
    for e in started:
        assert e.data.contract_digest == agent.registry.digest_for(e.data.tool)
    assert ended[0].data.pre_state == "silver"
    assert ended[1].data.pre_state == "active"
    assert ended[5].data.pre_state["name"] == "G. Hopper"


def test_plan_orders_steps_per_resource_and_notices_last(agent: Agent) -> None:
    run_id = agent.script()
    plan = make_plan(agent.conn, agent.registry, run_id)
    s = by_call(plan)
    tier, status = s[("crm.update_field", 0)], s[("crm.update_field", 1)]
    rename, delete = s[("crm.update_field", 2)], s[("crm.delete_record", 0)]
    email, refund = s[("email.send", 0)], s[("payments.refund", 0)]
    # LIFO per resource: the later change to c1 (status) is undone before the earlier (tier)
    assert status.group < tier.group and status.step_id in tier.depends_on
    assert delete.group < rename.group and delete.step_id in rename.depends_on
    # independent resources share the first group
    assert set(plan.groups[0]) == {status.step_id, delete.step_id, refund.step_id}
    # the human-facing correction comes last, as a mitigation with residue
    assert plan.groups[-1] == (email.step_id,)
    assert (email.strategy, email.phase, email.op) == (
        "mitigate",
        "notify",
        "email.send_correction",
    )
    assert email.args == {
        "to": "ada@example.com",
        "subject": "Correction: Your upgrade",
        "in_reply_to": "<Your-upgrade@agent>",
        "body": 'Please disregard our previous message "Your upgrade". It was sent in error.',
    }
    assert any(r.tool == "email.send" and "delivered" in r.residue for r in plan.residue)
    assert any(r.tool == "payments.refund" and "fees" in r.residue for r in plan.residue)
    assert (tier.strategy, tier.op, tier.args) == (
        "restore_pre_state",
        "crm.restore_field",
        {"record_id": "c1", "field": "tier", "value": "silver"},
    )
    assert delete.args["row"]["name"] == "G. Hopper"
    assert (refund.strategy, refund.args) == ("compensate", {"refund_id": "re_ch_1_1"})
    assert all(c.status == "match" for st in plan.steps for c in st.preconditions)
    assert plan.original_actors == ("alice",) and plan.original_approvers == ("bob",)
    assert plan.summary["side_effecting_calls"] == 6 and plan.summary["drifted"] == 0


def test_plan_is_deterministic(agent: Agent) -> None:
    run_id = agent.script()
    now = ids.format_timestamp(ids.now_ns())
    a = make_plan(agent.conn, agent.registry, run_id, now)
    b = make_plan(agent.conn, agent.registry, run_id, now)
    assert a.digest == b.digest and a == b


def test_human_edit_after_the_agent_makes_steps_manual(agent: Agent) -> None:
    run_id = agent.script()
    agent.conn.execute("UPDATE crm_contacts SET status = 'churned' WHERE id = 'c1'")  # a human
    plan = make_plan(agent.conn, agent.registry, run_id)
    s = by_call(plan)
    status, tier = s[("crm.update_field", 0 + 1)], s[("crm.update_field", 0)]
    assert status.strategy == "manual" and "found 'churned'" in status.drift[0]
    assert status.preconditions[0].status == "mismatch"
    assert tier.strategy == "manual" and "drifted" in tier.drift[0]  # no blind overwrite below it
    assert s[("crm.delete_record", 0)].strategy == "restore_pre_state"  # other resources unaffected
    assert plan.summary["drifted"] == 2


def test_another_run_touching_the_resource_is_drift(agent: Agent) -> None:
    run_id = agent.script()
    with run(agent="other-bot", user="dave") as r:
        agent.call(
            r,
            "crm.update_field",
            agent.update_field,
            record_id="c1",
            field="tier",
            value="platinum",
        )
    agent.settle()
    plan = make_plan(agent.conn, agent.registry, run_id, probe=False)
    s = by_call(plan)
    assert s[("crm.update_field", 0)].strategy == "manual"
    assert any("dave" in d for d in s[("crm.update_field", 1)].drift)


def test_expired_window_downgrades(agent: Agent) -> None:
    run_id = agent.script()
    later = ids.format_timestamp(
        ids.now_ns() + 2 * 86400 * 10**9
    )  # two days on: refund window is 24h
    plan = make_plan(agent.conn, agent.registry, run_id, later)
    s = by_call(plan)
    refund = s[("payments.refund", 0)]
    assert refund.strategy == "manual" and refund.downgraded_from == "compensable"
    assert refund.effect_class == "irreversible" and "expired" in refund.notes[0]
    assert "collections" in (refund.residue or "")
    assert s[("crm.update_field", 0)].strategy == "restore_pre_state"  # 30-day window still open
    assert plan.summary["downgraded"] == 1
