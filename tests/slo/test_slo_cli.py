"""`ledger slo` end to end (the real CLI in its own process): the table with numerators and
`unknown`, --json, objectives with error budget and burn rates, and bad input in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from ledger.errors import InputError
from ledger.hooks.writer import Writer
from replay.gate.selector import parse_selector
from replay.slo.objectives import load_objectives

from .conftest import publish, record_world

OBJECTIVES = """\
objectives:
  - {sli: task_completion, agent: sales, target: 0.9, window: 30d}
  - {sli: spend_within_budget, target: 0.5, window: 30d, op: ">="}
  - {sli: run_latency_p95_seconds, target: 60, window: 7d, op: "<="}
  - {sli: policy_compliance, target: 0.99, window: 30d}
costs: {human_review_usd_per_hour: 3600}
"""


@pytest.fixture
def world(ledger_conn: psycopg.Connection, ledger_settings: Settings, writer: Writer) -> None:
    publish(ledger_conn, ledger_settings)
    record_world(ledger_conn, ledger_settings, writer)


def test_table_json_and_objectives_with_budget_and_burn(world: None, cli: Any,
                                                       tmp_path: Path) -> None:
    res = cli("slo")
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "sales  prompt=sales/v4 model=gpt-4o-mini policy=" in out
    assert "(5 runs, 1 gate runs excluded)" in out
    assert "task_completion" in out and "60.0%" in out and "3/5" in out
    assert "policy_compliance" in out and "unknown" in out and "unchecked 5" in out
    assert ("1 gate runs excluded (listed in a recorded gate result; --include-gate to count "
            "them)") in out
    # objectives: error budget and burn rates
    slo = tmp_path / "slo.yaml"
    slo.write_text(OBJECTIVES)
    res = cli("slo", "--objectives", str(slo), "--json")
    assert res.exit_code == 1, res.stderr  # task completion 0.6 < 0.9
    data = json.loads(res.stdout)
    (row,) = data["rows"]
    assert (row["runs"], data["gate_runs_excluded"]) == (5, 1)
    slis = {s["name"]: s for s in row["slis"]}
    assert (slis["task_completion"]["numerator"], slis["task_completion"]["denominator"]) == (3, 5)
    assert slis["policy_compliance"]["value"] is None
    found = {o["sli"]: o for o in data["objectives"]}
    done = found["task_completion"]
    assert (done["met"], done["numerator"], done["denominator"]) == (False, 3, 5)
    assert done["budget_remaining"] == pytest.approx(1 - 2 / (0.1 * 5))   # overspent: -3
    assert done["burn_rate"]["1h"] == pytest.approx(0.4 / 0.1)           # all runs are recent
    assert done["burn_rate"]["5m"] == pytest.approx(4.0) and done["page"] is False
    assert found["spend_within_budget"]["met"] is True
    latency = found["run_latency_p95_seconds"]
    assert latency["met"] is True and latency["budget_remaining"] is None
    assert found["policy_compliance"]["met"] is None          # unchecked: unknown, never met
    human = cli("slo", "--objectives", str(slo))
    assert human.exit_code == 1 and "NOT MET" in human.stdout and "unknown" in human.stdout
    # review time priced at 3600 USD/h: 1 USD per second of approval wait
    data = json.loads(res.stdout)["rows"][0]["slis"]
    cost = next(s for s in data if s["name"] == "cost_per_resolved_usd")
    review = next(s for s in data if s["name"] == "human_review_seconds")
    assert cost["numerator"] == pytest.approx(0.45 + review["numerator"], rel=1e-6)


@pytest.mark.parametrize(("text", "line", "says"), [
    ("objectives:\n  - {sli: nope, target: 1, window: 30d}\n", 2, "sli: unknown SLI 'nope'"),
    ("objectives:\n  - sli: task_completion\n    target: 2\n    window: 30d\n", 3,
     "target: task_completion is a ratio"),
    ("objectives:\n  - {sli: task_completion, target: 0.9, window: soon}\n", 2,
     "is not a duration"),
    ("objectives:\n  - {sli: task_completion, target: 0.9}\n", 2, "missing key window"),
    ("objectives: []\ncost: {}\n", 2, "cost: unknown key"),
    ("objectives:\n  - {sli: task_completion, target: 0.9, window: 1d, op: '>'}\n", 2, "op:"),
    ("objectives: [\n", 2, "not YAML"),
    ("objectives: []\ncosts: {human_review_usd_per_hour: lots}\n", 2, "not a number"),
])
def test_bad_objectives_file_names_file_and_line(tmp_path: Path, text: str, line: int,
                                                 says: str) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text(text)
    with pytest.raises(InputError) as caught:
        load_objectives(slo)
    assert str(caught.value).startswith(f"{slo}:{line}: ") and says in str(caught.value)
    assert caught.value.exit_code == 2


def test_bad_input_on_the_command_line_is_one_line_exit_2(cli: Any, tmp_path: Path) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text("objectives:\n  - {sli: nope, target: 1, window: 30d}\n")
    res = cli("slo", "--objectives", str(slo), "--version", "prompt=a/b")
    assert res.exit_code == 2, res.stderr
    (only,) = res.stderr.strip().splitlines()
    assert only.startswith(f"error: {slo}:2: sli: unknown SLI 'nope' (one of: "), only


def test_selector_refusals() -> None:
    for text, says in (("colour=blue", "selector 'colour=blue': unknown key 'colour'"),
                       ("prompt=v5", "prompt is NAME/VERSION"),
                       ("policy=xyz", "hash prefix"), ("agent=", "needs a value")):
        with pytest.raises(ValueError, match=says):
            parse_selector(text)
