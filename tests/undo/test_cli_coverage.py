"""`ledger undo ...` end to end (plan file, dry-run, approve, apply) and undo coverage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.hooks import run
from replay.undo.coverage import coverage
from replay.undo.executor import COMPENSATORS
from replay.undo.model import read_plan
from replay.undo.scope import load_window_calls
from tests.registrykit import Authority, undo_registry
from tests.undo.conftest import Agent, crm_snapshot


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    """Run the undo sub-app as `ledger undo ...` would (same root options, same error mapping)."""
    from replay.cli.undo_cmd import app as undo_app

    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = {"dsn": settings.dsn, "home": settings.home}

    root.add_typer(undo_app, name="undo")
    res = CliRunner().invoke(root, ["undo", *args])
    if isinstance(res.exception, LedgerError):
        return int(res.exception.exit_code), str(res.exception)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout


def test_cli_plan_dry_run_approve_apply(
    agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    undo_registry(authority)
    root = str(authority.root_file)
    before = crm_snapshot(agent.conn)
    run_id = agent.script()
    plan_path = tmp_path / "plan.json"
    code, out = invoke(
        ledger_settings, "plan", str(run_id), "--out", str(plan_path), "--as", "ivan", "--json"
    )
    assert code == 0, out
    doc = json.loads(out)
    plan = read_plan(plan_path)
    assert doc["plan_digest"] == plan.digest and len(plan.steps) == 6

    code, out = invoke(ledger_settings, "dry-run", str(plan_path), "--sandbox")
    assert code == 0 and out.count("would run") == 5 and "residue:" in out, out
    assert "why: mail relay not configured (tried the default 127.0.0.1:25: " in out, out
    relay = f"{agent.smtp.host}:{agent.smtp.port}"  # INCIDENT18 #4: the relay, then it runs
    code, out = invoke(ledger_settings, "dry-run", str(plan_path), "--sandbox", "--smtp", relay)
    assert code == 0 and out.count("would run") == 6, out

    code, msg = invoke(
        ledger_settings, "approve", str(plan_path), "--as", "alice", "--trust-root", root
    )
    assert code == 1 and "separation of duties" in msg
    code, out = invoke(
        ledger_settings, "approve", str(plan_path), "--as", "carol", "--trust-root", root
    )
    assert code == 0 and plan.digest in out

    smtp = f"{agent.smtp.host}:{agent.smtp.port}"
    code, out = invoke(
        ledger_settings,
        "apply",
        str(plan_path),
        "--smtp",
        smtp,
        "--as",
        "ivan",
        "--json",
        "--trust-root",
        root,
    )
    assert code == 0, out
    assert json.loads(out)["status"] == "done"
    assert crm_snapshot(agent.conn)["contacts"] == before["contacts"]
    code, out = invoke(
        ledger_settings, "apply", str(plan_path), "--smtp", smtp, "--json", "--trust-root", root
    )
    assert code == 0 and all(s["skipped"] for s in json.loads(out)["steps"])

    # a time window selects the same run (whole); drift is now reported, as the CRM was restored
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    code, out = invoke(
        ledger_settings, "plan", "--since", since, "--out", str(tmp_path / "w.json"), "--json"
    )
    assert code == 0, out
    assert json.loads(out)["plan"]["scope"]["runs"] == [str(run_id)]

    tampered = tmp_path / "tampered.json"
    tampered.write_text(plan_path.read_text().replace("crm.restore_field", "crm.restore_fielt"))
    code, msg = invoke(ledger_settings, "dry-run", str(tampered))
    assert code == 2 and "digest mismatch" in msg


def test_coverage_reports_share_and_tools_lacking_a_compensator(
    agent: Agent, ledger_settings: Settings
) -> None:
    agent.script()

    def shell(cmd: str) -> dict[str, Any]:
        return {"exit": 0}

    with run(agent="ops-bot", user="erin") as r:
        agent.call(r, "shell.exec", shell, cmd="rm -rf /tmp/x")  # undeclared, side-effecting
    agent.settle()
    code, out = invoke(ledger_settings, "coverage", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["side_effecting_calls"] == 7 and report["covered_calls"] == 6
    assert report["tools_lacking_compensator"] == ["shell.exec"]
    assert report["by_tool"]["shell.exec"]["reason"] == "no effect contract"
    # without the email compensator registered, email.send is declared but not covered
    events = load_window_calls(agent.conn, None, None)
    ops = {k: v for k, v in COMPENSATORS.items() if k != "email.send_correction"}
    rep = coverage(events, agent.registry, ops)
    assert rep.lacking == ["email.send", "shell.exec"] and rep.covered_calls == 5
    assert "declared but no compensator registered" in (rep.by_tool["email.send"].reason or "")
    code, out = invoke(ledger_settings, "coverage")
    assert code == 0 and "undo coverage 85.7% (6/7)" in out and "shell.exec" in out
