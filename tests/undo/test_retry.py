"""A failed compensation can be retried (issue 18): the next apply re-runs the failed step under
the same idempotency key and skips the steps that succeeded; and a probe that cannot read the
target is reported as what it is, with its fix, by `ledger undo` (not as drift)."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg

from ledger import ids
from ledger.config import Settings
from ledger.scenarios import incident_events
from replay.undo.approvals import approve
from replay.undo.executor import apply_plan
from replay.undo.probes import UndoContext
from tests.ledgerkit import append
from tests.registrykit import Authority, undo_registry
from tests.undo.conftest import Agent, crm_snapshot
from tests.undo.test_apply import undo_events
from tests.undo.test_cli_coverage import invoke
from tests.undo.test_plan import by_call, make_plan

FIX = "set LEDGER_UNDO_TARGET_DSN (or pass --target-dsn to ledger undo) and relaunch"


def _started(conn: psycopg.Connection) -> dict[str, int]:
    """How many times each step ran (undo.step.started events, one per execution)."""
    out: dict[str, int] = {}
    for e in undo_events(conn):
        if e.type == "undo.step.started":
            out[e.data.step_id] = out.get(e.data.step_id, 0) + 1
    return out


def test_a_failed_step_runs_again_and_only_it(
    agent: Agent, ledger_settings: Settings, authority: Authority, tmp_path: Path
) -> None:
    """The refund reversal fails on the real CRM database the first time (a constraint the
    finance team added refuses it), then succeeds once the constraint is gone."""
    undo_registry(authority)
    before = crm_snapshot(agent.conn)
    run_id = agent.script()
    plan = make_plan(agent.conn, agent.registry, run_id)
    approve(agent.conn, ledger_settings, plan, "carol", root=authority.root)
    agent.conn.execute(
        "ALTER TABLE crm_refunds ADD CONSTRAINT frozen CHECK (status <> 'reversed') NOT VALID"
    )
    extra = {"smtp_host": agent.smtp.host, "smtp_port": agent.smtp.port}
    ctx = UndoContext(conn=agent.conn, extra=extra)
    first = apply_plan(agent.conn, ledger_settings, plan, ctx, root=authority.root, operator="ivan")
    refund = by_call(plan)[("payments.refund", 0)].step_id
    out = {o.step_id: o for o in first.steps}
    assert (first.status, out[refund].status, out[refund].attempts) == (
        "failed",
        "compensation_failed",
        3,
    )
    assert "CheckViolation" in (out[refund].error or "") or "frozen" in (out[refund].error or "")
    assert all(o.status == "compensated" for o in first.steps if o.step_id != refund)
    mails = len(agent.smtp.sink.messages)

    agent.conn.execute("ALTER TABLE crm_refunds DROP CONSTRAINT frozen")
    path = tmp_path / "plan.json"
    from replay.undo.model import write_plan

    write_plan(plan, path)
    smtp = f"{agent.smtp.host}:{agent.smtp.port}"
    code, text = invoke(
        ledger_settings, "apply", str(path), "--smtp", smtp, "--as", "ivan",
        "--trust-root", str(authority.root_file),
    )  # fmt: skip
    assert code == 0, text
    lines = text.splitlines()
    assert lines[0].startswith(f"apply done: plan {plan.digest[:16]}… (undo run ")
    assert f"  {refund} compensated attempts=1" in lines
    skipped = [ln for ln in lines if ln.endswith(" (succeeded earlier: not run again)")]
    assert len(skipped) == len(plan.steps) - 1 and all("compensated" in ln for ln in skipped)
    counts = _started(agent.conn)
    assert counts == {s.step_id: (2 if s.step_id == refund else 1) for s in plan.steps}
    assert len(agent.smtp.sink.messages) == mails  # the correction mail went once
    assert crm_snapshot(agent.conn)["contacts"] == before["contacts"]
    assert agent.conn.execute("SELECT status FROM crm_refunds").fetchone() == ("reversed",)


def test_cli_says_what_a_probe_error_is_and_how_to_fix_it(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    """No CRM tables in the ledger's database and no --target-dsn: the dry run names the
    missing target and the fix; a target that refuses connections names host:port (exit 3)."""
    t0 = ids.now_ns() - 3600 * 10**9  # an hour ago: the refund window is open
    events = incident_events(name="cli-probe", t0_ns=t0)
    append(ledger_conn, ledger_settings, events)
    path = tmp_path / "plan.json"
    code, out = invoke(ledger_settings, "plan", str(events[0].run_id), "--out", str(path))
    assert code == 0, out
    assert out.splitlines()[1] == "  2 side-effecting calls: 1 compensate, 1 mitigate"
    code, out = invoke(ledger_settings, "dry-run", str(path))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("probe error: g0 s0001 compensate "), lines
    why = lines[1]
    assert why.startswith(
        "      why: no undo target database: probe payments.get_refund ran against the "
        "ledger's own database, which lacks the system's tables (UndefinedTable: "
    ), why
    assert why.endswith(FIX) and "drift" not in why
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dsn = f"postgresql://undo:secret@127.0.0.1:{port}/crm"
    code, msg = invoke(ledger_settings, "dry-run", str(path), "--target-dsn", dsn)
    assert (code, msg) == (
        3,
        f"undo target database unreachable at 127.0.0.1:{port}: connection refused; start it, "
        f"or {FIX} to point at the system being repaired",
    )
