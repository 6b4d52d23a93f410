"""One undo planner (replay.undo.service.plan_for) behind the CLI, the TUI and the demo.

The same incident must give the same plan and the same digest whoever plans it, and planning
an unchanged run again must reproduce the digest, or an approval made in one session would
never match the plan in another (issue 13).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from exporters.demo.report import report
from exporters.demo.story import record_story
from ledger import ids
from ledger.config import Settings
from ledger.errors import InputError
from replay.undo.examples import CONTRACTS_DIR, DEMO_CONTRACTS_DIR
from replay.undo.model import UndoPlan, read_plan, write_plan
from replay.undo.service import contract_sources, plan_for
from tests.ledgerkit import append, chained_run

TUI_PLAN = """
import sys
from ledger.config import Settings
from tui.actions import undo_plan
from tui.data import LedgerData
data = LedgerData(Settings.from_env())
try:
    preview = undo_plan(data, sys.argv[1:], None, "oncall@example.com", dry=False)
    print(preview.plan.model_dump_json())
finally:
    data.close()
"""


def _tui_plan(settings: Settings, runs: list[str]) -> UndoPlan:
    """The TUI's plan, from a fresh process: what it has imported cannot change the plan."""
    env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}
    out = subprocess.run(
        [sys.executable, "-c", TUI_PLAN, *runs], env=env, capture_output=True, check=True
    )
    return UndoPlan.model_validate_json(out.stdout)


def test_cli_tui_and_demo_give_the_same_plan_and_digest(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any, tmp_path: Path
) -> None:
    story = record_story(ledger_settings, ledger_conn)
    runs = [story.incident[k] for k in ("prompt_injection", "refund_without_approval")]
    demo = report(ledger_settings, ledger_conn, story, tmp_path / "demo").plan
    assert demo is not None

    digests = []
    for n, order in enumerate((runs, runs[::-1])):  # the order of the request does not matter
        out = tmp_path / f"cli-{n}.json"
        res = cli("undo", "plan", *order, "--out", str(out), "--by", f"someone-{n}", "--json")
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["plan_digest"] == read_plan(out).digest  # it loads
        digests.append(read_plan(out).digest)

    tui = _tui_plan(ledger_settings, runs)

    assert digests == [demo.digest, demo.digest]
    assert tui.digest == demo.digest
    assert tui.steps == demo.steps and tui.scope == demo.scope
    # the demo's read-only tools are declared: no manual step for an undeclared tool
    assert {s.strategy for s in demo.steps} == {"restore_pre_state", "compensate", "mitigate"}
    assert all(c.status == "match" for s in demo.steps for c in s.preconditions)


def test_replanning_reproduces_the_digest_but_not_the_provenance(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    events = chained_run(2)
    append(ledger_conn, ledger_settings, events)
    run = [events[0].run_id]
    first = plan_for(ledger_conn, ledger_settings, run, created_by="a", reason="one").plan
    later = ids.format_timestamp(ids.now_ns() + 3600 * 10**9)
    again = plan_for(ledger_conn, ledger_settings, run, now=later, created_by="b").plan
    assert first.digest == again.digest and first.plan_id == again.plan_id
    assert (first.created_by, again.created_by) == ("a", "b")
    assert first.created_at != again.created_at


def test_a_tool_without_a_contract_loads_as_a_manual_step(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any, tmp_path: Path
) -> None:
    events = chained_run(1)  # `crm.update`: no effect contract declares it
    append(ledger_conn, ledger_settings, events)
    planned = plan_for(ledger_conn, ledger_settings, [events[0].run_id])
    path = tmp_path / "plan.json"
    write_plan(planned.plan, path)
    [step] = read_plan(path).steps
    assert (step.tool, step.strategy, step.contract_digest) == ("crm.update", "manual", None)
    assert step.contract_source == "undeclared"

    res = cli("undo", "plan", str(events[0].run_id), "--out", str(path))
    assert res.exit_code == 0, res.stderr
    res = cli("undo", "dry-run", str(path))
    assert res.exit_code == 0, res.stderr
    assert "manual" in res.stdout and "Traceback" not in res.stderr + res.stdout
    assert "pydantic" not in res.stderr


def test_contract_search_order(
    ledger_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_CONTRACTS", raising=False)
    assert contract_sources(ledger_settings) == [CONTRACTS_DIR, DEMO_CONTRACTS_DIR]
    home = ledger_settings.home / "contracts"
    home.mkdir(parents=True)
    assert contract_sources(ledger_settings) == [home]
    monkeypatch.setenv("LEDGER_CONTRACTS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert contract_sources(ledger_settings) == [tmp_path / "a", tmp_path / "b"]
    assert contract_sources(ledger_settings, [tmp_path]) == [tmp_path]


def test_nothing_to_plan_is_an_input_error(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    with pytest.raises(InputError, match="run ids"):
        plan_for(ledger_conn, ledger_settings, [])
    with pytest.raises(InputError, match="no events"):
        plan_for(ledger_conn, ledger_settings, [uuid.uuid4()])
