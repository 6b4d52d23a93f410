"""Dry run, approval (separation of duties), apply, idempotent re-apply, failure path."""

from __future__ import annotations

import stat
from typing import Any

import psycopg
import pytest

from ledger import ids
from ledger.config import Settings
from ledger.events import make_event
from ledger.verify import verify_ledger
from replay.undo.approvals import ApprovalRefused, approve, approver_key_path
from replay.undo.contracts import Contract, ContractRegistry
from replay.undo.dryrun import dry_run
from replay.undo.executor import NotApproved, apply_plan, compensator
from replay.undo.plan import generate_plan
from replay.undo.probes import UndoContext
from tests.ledgerkit import append
from tests.registrykit import Authority, undo_registry
from tests.undo.conftest import Agent, crm_snapshot
from tests.undo.test_plan import by_call, make_plan

UNDO_TYPES = ("undo.plan.created", "undo.plan.approved", "undo.step.started", "undo.step.ended")


def undo_events(conn: psycopg.Connection) -> list[Any]:
    from ledger.events import decode_event

    rows = conn.execute(
        "SELECT body FROM ledger_events WHERE type = ANY(%s) ORDER BY seq", (list(UNDO_TYPES),)
    ).fetchall()
    return [decode_event(bytes(r[0])) for r in rows]


def test_dry_run_renders_probes_and_changes_nothing(agent: Agent) -> None:
    run_id = agent.script()
    plan = make_plan(agent.conn, agent.registry, run_id)
    before = crm_snapshot(agent.conn)
    relay = {"smtp_host": agent.smtp.host, "smtp_port": agent.smtp.port}  # reach: the relay
    report = dry_run(plan, UndoContext(conn=agent.conn, extra=relay), sandbox=True)
    assert [r.step_id for r in report] == [s.step_id for s in plan.ordered_steps()]
    assert all(r.would_run for r in report), [
        (r.step_id, r.tool, r.compensator, r.preconditions) for r in report
    ]
    crm = [r for r in report if r.tool.startswith("crm.")]
    assert all(r.sandbox == "ok (rolled back)" for r in crm)
    assert next(r for r in report if r.tool == "email.send").sandbox == "not sandboxable"
    assert all(p.status == "match" for r in report for p in r.preconditions)
    assert crm_snapshot(agent.conn) == before
    assert agent.smtp.sink.messages[-1]["Subject"] == "Your upgrade"  # no correction sent


def test_approval_separation_of_duties_and_key(
    agent: Agent, ledger_settings: Settings, authority: Authority
) -> None:
    undo_registry(authority)
    run_id = agent.script()
    plan = make_plan(agent.conn, agent.registry, run_id)
    with pytest.raises(ApprovalRefused, match="original actor"):
        approve(agent.conn, ledger_settings, plan, "alice", root=authority.root)
    with pytest.raises(ApprovalRefused, match="approved the original"):
        approve(agent.conn, ledger_settings, plan, "bob", root=authority.root)
    with pytest.raises(NotApproved):
        apply_plan(
            agent.conn, ledger_settings, plan, UndoContext(conn=agent.conn), root=authority.root
        )
    approve(agent.conn, ledger_settings, plan, "carol", root=authority.root)
    key = approver_key_path(ledger_settings, "carol")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    approved = [e for e in undo_events(agent.conn) if e.type == "undo.plan.approved"]
    assert [(e.data.plan_digest, e.data.approver.id) for e in approved] == [(plan.digest, "carol")]


def test_separation_of_duties_compares_normalised_names(
    agent: Agent, ledger_settings: Settings, authority: Authority
) -> None:
    """An original actor or approver spelled with other case is still refused (issue 14)."""
    undo_registry(authority)
    run_id = agent.script()
    plan = make_plan(agent.conn, agent.registry, run_id)
    with pytest.raises(ApprovalRefused, match="original actor"):
        approve(agent.conn, ledger_settings, plan, "Alice", root=authority.root)
    with pytest.raises(ApprovalRefused, match="approved the original"):
        approve(agent.conn, ledger_settings, plan, "BOB", root=authority.root)
    assert not [e for e in undo_events(agent.conn) if e.type == "undo.plan.approved"]


def test_apply_restores_crm_exactly_then_reapply_is_a_no_op(
    agent: Agent, ledger_settings: Settings, authority: Authority
) -> None:
    undo_registry(authority)
    before = crm_snapshot(agent.conn)
    run_id = agent.script()
    assert crm_snapshot(agent.conn) != before
    plan = make_plan(agent.conn, agent.registry, run_id)
    approve(agent.conn, ledger_settings, plan, "carol", root=authority.root)
    ctx = UndoContext(
        conn=agent.conn, extra={"smtp_host": agent.smtp.host, "smtp_port": agent.smtp.port}
    )
    report = apply_plan(
        agent.conn, ledger_settings, plan, ctx, root=authority.root, operator="ivan"
    )
    assert report.status == "done", report.as_json()
    after = crm_snapshot(agent.conn)
    assert after["contacts"] == before["contacts"]  # every field and the deleted row, exactly
    assert after["refunds"] == [("re_ch_1_1", "ch_1", 5000, "reversed")]
    correction = agent.smtp.sink.messages[-1]
    assert correction["Subject"] == "Correction: Your upgrade"
    assert correction["In-Reply-To"] == "<Your-upgrade@agent>"
    # the correction went last: after every restore step
    assert [o.step_id for o in report.steps][-1] == by_call(plan)[("email.send", 0)].step_id
    ended = [e for e in undo_events(agent.conn) if e.type == "undo.step.ended"]
    targets = {str(s.target_action_id): s for s in plan.steps}
    assert len(ended) == 6 and all(e.data.status == "compensated" for e in ended)
    assert all(str(e.data.compensates) in targets for e in ended)
    undo_run = {e.run_id for e in ended}
    assert len(undo_run) == 1 and report.undo_run_id in undo_run
    report_v = verify_ledger(agent.conn, ledger_settings)
    assert report_v.status == "ok", report_v.reason

    count = agent.conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    mails = len(agent.smtp.sink.messages)
    again = apply_plan(agent.conn, ledger_settings, plan, ctx, root=authority.root, operator="ivan")
    assert again.status == "done" and all(o.skipped for o in again.steps)
    assert again.undo_run_id is None
    assert agent.conn.execute("SELECT count(*) FROM ledger_events").fetchone() == count
    assert len(agent.smtp.sink.messages) == mails and crm_snapshot(agent.conn) == after


def test_drift_after_approval_stops_the_step(
    agent: Agent, ledger_settings: Settings, authority: Authority
) -> None:
    undo_registry(authority)
    run_id = agent.script()
    plan = make_plan(agent.conn, agent.registry, run_id)
    approve(agent.conn, ledger_settings, plan, "carol", root=authority.root)
    agent.conn.execute("UPDATE crm_contacts SET status = 'churned' WHERE id = 'c1'")  # a human
    ctx = UndoContext(
        conn=agent.conn, extra={"smtp_host": agent.smtp.host, "smtp_port": agent.smtp.port}
    )
    report = apply_plan(agent.conn, ledger_settings, plan, ctx, root=authority.root)
    out = {o.step_id: o for o in report.steps}
    s = by_call(plan)
    assert out[s[("crm.update_field", 1)].step_id].status == "needs_operator"
    assert "churned" in (out[s[("crm.update_field", 1)].step_id].error or "")
    assert out[s[("crm.update_field", 0)].step_id].status == "needs_operator"  # blocked behind it
    assert agent.conn.execute(
        "SELECT status, tier FROM crm_contacts WHERE id = 'c1'"
    ).fetchone() == ("churned", "gold")
    assert report.status == "partial"


def test_refund_needs_the_finance_role(
    agent: Agent, ledger_settings: Settings, authority: Authority
) -> None:
    undo_registry(authority)
    run_id = agent.script()
    plan = make_plan(agent.conn, agent.registry, run_id)
    approve(agent.conn, ledger_settings, plan, "dave", root=authority.root)  # no role in registry
    ctx = UndoContext(
        conn=agent.conn, extra={"smtp_host": agent.smtp.host, "smtp_port": agent.smtp.port}
    )
    report = apply_plan(agent.conn, ledger_settings, plan, ctx, root=authority.root)
    refund = next(
        o for o in report.steps if o.step_id == by_call(plan)[("payments.refund", 0)].step_id
    )
    assert refund.status == "needs_operator" and "finance-oncall" in (refund.error or "")
    assert agent.conn.execute("SELECT status FROM crm_refunds").fetchone() == ("succeeded",)


ATTEMPTS: dict[str, int] = {}


@compensator("test.always_fails")
def _always_fails(args: dict[str, Any], ctx: UndoContext) -> Any:
    ATTEMPTS[ctx.idempotency_key] = ctx.attempt
    raise ConnectionError("billing API unavailable")


@compensator("test.flaky")
def _flaky(args: dict[str, Any], ctx: UndoContext) -> Any:
    ATTEMPTS[ctx.idempotency_key] = ctx.attempt
    if ctx.attempt < 2:
        raise TimeoutError("try again")
    return {"ok": args["n"]}


def _run(tool_calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    import uuid

    from ledger.events import args_hash, encode_event, leaf_hash

    rid, out, prev = uuid.uuid4(), [], None
    bodies: list[tuple[str, dict[str, Any]]] = [("run.started", {"task": "t"})]
    for i, (tool, args) in enumerate(tool_calls):
        bodies.append(
            (
                "tool.call.started",
                {
                    "tool_call_id": f"t{i}",
                    "tool": tool,
                    "args": args,
                    "args_hash": args_hash(args),
                    "side_effect": True,
                },
            )
        )
        bodies.append(("tool.call.ended", {"tool_call_id": f"t{i}", "tool": tool, "status": "ok"}))
    bodies.append(("run.ended", {"status": "succeeded", "event_count": len(bodies) + 1}))
    for n, (t, d) in enumerate(bodies):
        e = make_event(
            t,
            run_id=rid,
            run_seq=n,
            prev_run_hash=prev,
            data=d,
            principal={"initiating_user": "alice"},
        )
        prev = leaf_hash(encode_event(e)).hex()
        out.append(e)
    return out


def test_compensation_failure_is_terminal_and_retries_are_bounded(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, authority: Authority
) -> None:
    undo_registry(authority)
    reg = ContractRegistry()
    for tool, op in (("billing.charge", "test.always_fails"), ("billing.note", "test.flaky")):
        reg.add(
            Contract.model_validate(
                {
                    "tool": tool,
                    "version": 1,
                    "effect_class": "compensable",
                    "resources": ["billing:{args.n}"],
                    "compensation": {
                        "op": op,
                        "args_template": {"n": "{args.n}"},
                        "max_attempts": 3,
                    },
                }
            )
        )
    events = _run(
        [("billing.note", {"n": 1}), ("billing.charge", {"n": 2}), ("billing.note", {"n": 2})]
    )
    append(ledger_conn, ledger_settings, events)
    plan = generate_plan(events, reg, now=ids.format_timestamp(ids.now_ns()), scope={"runs": ["x"]})
    approve(ledger_conn, ledger_settings, plan, "carol", root=authority.root)
    ctx = UndoContext(conn=ledger_conn)
    report = apply_plan(ledger_conn, ledger_settings, plan, ctx, root=authority.root)
    out = {o.step_id: o for o in report.steps}
    note1, charge, note2 = (out[s.step_id] for s in sorted(plan.steps, key=lambda s: s.step_id))
    assert (note2.status, note2.attempts) == ("compensated", 2)  # one retry, then success
    assert (charge.status, charge.attempts) == ("compensation_failed", 3)
    assert "billing API unavailable" in (charge.error or "")
    assert (note1.status, note1.attempts) == ("compensated", 2)  # independent resource still done
    assert report.status == "failed"
    failed = [
        e
        for e in undo_events(ledger_conn)
        if e.type == "undo.step.ended" and e.data.status == "compensation_failed"
    ]
    assert len(failed) == 1 and failed[0].data.details["attempts"] == 3
    # issue 18: a second apply retries the failed step (and only it): the billing API is still
    # down, so it fails again after its bounded retries; the compensated steps are not run again
    again = apply_plan(ledger_conn, ledger_settings, plan, ctx, root=authority.root)
    by_id = {o.step_id: o for o in again.steps}
    assert (by_id[charge.step_id].status, by_id[charge.step_id].skipped) == (
        "compensation_failed",
        False,
    )
    assert all(o.skipped for o in again.steps if o.step_id != charge.step_id)
    started = [e.data.step_id for e in undo_events(ledger_conn) if e.type == "undo.step.started"]
    assert sorted(started) == sorted([note1.step_id, note2.step_id, charge.step_id, charge.step_id])
    assert ledger_conn.execute(
        "SELECT status, attempts FROM undo_steps WHERE step_id = %s", (charge.step_id,)
    ).fetchone() == ("compensation_failed", 3)
