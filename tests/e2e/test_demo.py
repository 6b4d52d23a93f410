"""End to end: the README's main command builds the incident and every part agrees on it."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from exporters.demo import agents
from exporters.demo.report import report
from exporters.demo.story import record_story
from ledger.config import Settings
from ledger.store.read import run_events

EXPECTED_FAILURES = {
    "prompt_injection": {
        "recipients.email.send.to",
        "flows.untrusted-to-egress",
        "prompts.registered",
    },
    "refund_without_approval": {"approval.payments.refund"},
    "tool_loop": {
        "max_total_tokens",
        "max_tool_calls",
        "budgets.max_usd_per_run",
        "loops.max_identical_calls",
    },
}


@pytest.mark.parametrize("loop", ["langgraph", "plain-hooks"])
def test_demo_story_findings_plan_and_bundle(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, loop: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same story, findings and undo plan whether the sales-ops agent is a LangGraph graph
    (`make demo`) or the plain hooks (`pip install agent-ledger` without the langgraph extra;
    the wheel test in tests/e2e/test_wheel.py runs that for real)."""
    monkeypatch.setattr(agents, "langgraph_installed", lambda: loop == "langgraph")
    story = record_story(ledger_settings, ledger_conn)
    outcome = report(ledger_settings, ledger_conn, story, ledger_settings.home / "demo")

    assert outcome.verified
    incident = run_events(ledger_conn, uuid.UUID(story.incident["prompt_injection"]))
    frameworks = {r.event.source.framework for r in incident if r.event.type == "llm.call.ended"}
    assert frameworks == ({"langchain"} if loop == "langgraph" else {"python"})
    # The expected findings, and no others.
    by_name = {name: story.incident[name] for name in EXPECTED_FAILURES}
    assert set(outcome.findings) == set(by_name.values())
    for name, run_id in by_name.items():
        assert {line.split(":")[0] for line in outcome.findings[run_id]} == EXPECTED_FAILURES[name]

    # Recorded now, so the time rules judge every run: no quiet run is left "unknown".
    assert outcome.unknowns == {}
    assert outcome.summary.startswith(f"checked {len(story.runs)} runs: 5 pass, 3 fail (")
    assert outcome.summary.endswith(", 0 unknown; 2 policies")

    # Several users, two agents, versions that change during the story.
    starts = [run_events(ledger_conn, uuid.UUID(r))[0].event for r in story.runs]
    assert {s.principal.initiating_user for s in starts} >= {
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    }
    assert {s.agent.name for s in starts if s.agent} == {"sales-ops", "support"}
    assert len({s.versions.prompt_version for s in starts}) >= 3
    assert len({s.versions.model for s in starts}) >= 3
    assert len({s.versions.policy_hash for s in starts}) == 2

    # The undo plan: restore the CRM field from its recorded pre-state, reverse the refund,
    # and a correction email last (the original send is irreversible).
    plan = outcome.plan
    assert plan is not None
    steps = plan.ordered_steps()
    ops = [(s.tool, s.op) for s in steps]
    # Independent resources share a parallel group (any order); the notice comes last.
    assert set(ops[:2]) == {
        ("crm.update_field", "crm.restore_field"),
        ("payments.refund", "payments.reverse_refund"),
    }
    assert ops[2] == ("email.send", "email.send_correction")
    assert steps[0].group == steps[1].group < steps[2].group
    restore = next(s for s in steps if s.op == "crm.restore_field")
    assert restore.args is not None and restore.args["value"] == "customer"
    assert {r.tool for r in plan.residue} == {"email.send", "payments.refund"}

    assert outcome.bundle_valid and outcome.bundle is not None
    manifest = json.loads((outcome.bundle / "manifest.json").read_text())
    files = {f["path"] for f in manifest["files"]}
    assert {"ledger/events.parquet", "controls/control-matrix.csv", "VERIFY.md"} <= files
    in_period = sum(len(run_events(ledger_conn, uuid.UUID(r))) for r in story.runs)
    assert manifest["row_counts"]["events"] >= in_period  # plus policy, export and undo events


def test_ledger_demo_command_runs_twice(cli: object) -> None:
    first = cli("demo", "--no-tui")  # type: ignore[operator]
    assert first.exit_code == 0, first.stderr
    assert "VALID (offline, no database)" in first.stdout
    assert "ledger tui --run" in first.stdout
    assert "--trust-root " in first.stdout and "/demo/authority/" in first.stdout
    assert ", 0 unknown; " in first.stdout
    second = cli("demo", "--no-tui")  # type: ignore[operator]
    assert second.exit_code == 0, second.stderr
    runs = json.loads(cli("runs", "--json").stdout)["runs"]  # type: ignore[operator]
    assert len(runs) == 16


def test_the_tui_opens_on_the_demo_incident(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    import asyncio

    from textual.widgets import Static

    from tests.tui.conftest import settle
    from tui.app import LedgerApp
    from tui.screens.timeline import TimelineScreen

    story = record_story(ledger_settings, ledger_conn)
    incident = story.incident["prompt_injection"]
    events = run_events(ledger_conn, uuid.UUID(incident))

    async def open_incident() -> str:
        app = LedgerApp(ledger_settings, run_id=incident, listen=False, user="oncall@example.com")
        try:
            async with app.run_test(size=(120, 36)) as pilot:
                await settle(pilot)
                assert isinstance(app.screen, TimelineScreen)
                return str(app.screen.query_one("#tl-title", Static).render())
        finally:
            app.data.close()

    title = asyncio.run(open_incident())
    assert incident in title and f"{len(events)} events" in title


def test_the_tui_the_demo_opens_has_its_trust_root_and_on_call() -> None:
    """Step 5 prints, and the demo execs, a TUI that can approve and stop: without the trust
    root it just made every approval is refused (INCIDENT18 #6)."""
    from pathlib import Path

    from exporters.demo.demo_cmd import tui_argv

    root, home = Path("/h/demo/authority/admin.key.pub"), Path("/h")
    assert tui_argv("RUN", root, None) == [
        "tui", "--run", "RUN", "--as", "ivan@example.com", "--trust-root", str(root)]
    assert tui_argv("RUN", root, home)[:2] == ["--home", "/h"]
