"""`gate check` against what a writer controls: run attributes, tool names, model names.

A gate tag is the writer's claim that a run is an attempt of a task. It can put a run into the
evaluation and nothing more: fields such as `verdict` or `run_ids` in it are ignored, a tag of
the wrong shape is no tag, and the recorded gate.result lists exactly the runs evaluated, with
the decision their recorded events earned. Writer text is printed escaped. The policy in force
is the one `ledger check` uses (here a published pack the runs recorded)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.gates import gate_results
from ledger.hooks.writer import Writer
from replay.policy import load_pack_text
from replay.policy.published import publish_policy
from tests.gate.checkkit import (
    SUITE,
    SUITE_YAML,
    Attempt,
    good_set,
    record,
    record_all,
    run_cli,
    suite_file,
    writer_for,
)


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    yield writer_for(ledger_settings)
    hooks.shutdown()


def test_policy_must_pass_fails_the_attempt_unless_the_rule_is_allowed(
    writer: Writer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    pack = load_pack_text("max_tool_calls: 1\n", "tight.yaml")
    publish_policy(ledger_conn, ledger_settings, pack)
    two_calls = (("crm.lookup", {}), ("crm.update_field", {"field": "renewal"}))
    record_all([Attempt(attempt=n, tools=two_calls, policy_hash=pack.policy_hash)
                for n in (1, 2)] + [replace(a, policy_hash=pack.policy_hash)  # one version
                                    for a in good_set()[2:]])
    strict = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check",
                     str(suite_file(tmp_path)), "--runs", "v4", "--no-record")
    assert strict.exit_code == 1
    assert strict.stdout.splitlines()[0].split("  ")[-1] == (
        "attempt 1: policy: rule max_tool_calls failed")
    allowed = SUITE_YAML.replace("    budget: {max_usd", "    allow_rules: [max_tool_calls]\n"
                                 "    budget: {max_usd")
    ok = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check",
                 str(suite_file(tmp_path, allowed, "allowed.yaml")), "--runs", "v4",
                 "--no-record")
    assert ok.exit_code == 0, ok.stdout
    ignore = SUITE_YAML.replace("min_repeats: 2\n", "min_repeats: 2\npolicy: ignore\n")
    lax = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check",
                  str(suite_file(tmp_path, ignore, "ignore.yaml")), "--runs", "v4", "--no-record")
    assert lax.exit_code == 0, lax.stdout


def test_forged_gate_attributes_cannot_put_in_the_result_what_was_not_evaluated(
    writer: Writer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    phantom = uuid.uuid4()
    honest = record_all(good_set()[2:])  # the adversarial task: two good attempts
    forged = record(Attempt(output="nope", gate={
        "suite": SUITE, "task": "renewal-update", "attempt": "1; DROP TABLE ledger_events",
        "label": "v4", "suite_hash": "\x1b[2Jforged", "verdict": "pass", "passed": 2,
        "decision": "pass", "run_ids": [str(phantom)],
    }))
    second = record(Attempt(attempt=2))
    shapeless = record_all([
        Attempt(gate="renewal-update"), Attempt(gate={"suite": SUITE, "task": ["renewal-update"]}),
        Attempt(gate={"suite": SUITE, "task": "renewal-update", "attempt": 10**30,
                      "label": {"not": "text"}}),
    ])
    done = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check",
                   str(suite_file(tmp_path)), "--runs", f"suite={SUITE}", "--json", "--as", "ci")
    assert done.exit_code == 1, done.stderr
    out = json.loads(done.stdout)
    assert out["decision"] == "fail" and out["selection"]["untagged"] == 1
    assert out["selection"]["other_suite_hash"] == 1  # the forged hash (evaluated all the same)
    (data,) = [g.data for g in gate_results(ledger_conn, ledger_settings)]
    recorded = {r for t in data.tasks for r in t.run_ids}
    evaluated = {uuid.UUID(a["run_id"]) for a in out["attempts"]}
    assert recorded == evaluated == {*honest, forged, second, shapeless[2]}
    assert phantom not in recorded and data.decision == "fail"
    renewal = data.tasks[0]
    assert (renewal.attempts, renewal.passed, renewal.verdict) == (3, 2, "fail")
    assert {a["attempt"] for a in out["attempts"] if a["run_id"] == str(forged)} == {None}


def test_writer_text_is_printed_escaped(
    writer: Writer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_settings: Settings,
) -> None:
    evil = "\x1b]0;owned\x07\x1b[2J"
    record_all([
        Attempt(tools=((f"crm.update_field{evil}", {"field": f"renewal{evil}"}),),
                model=f"gpt{evil}"),
        Attempt(task=f"renewal-update{evil}"),
    ])
    done = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check",
                   str(suite_file(tmp_path)), "--runs", "v4", "--no-record")
    assert done.exit_code == 1
    shown = done.stdout + done.stderr
    assert "\x1b" not in shown and "\x07" not in shown
    assert "model gpt\\x1b]0;owned\\x07\\x1b[2J" in shown
    assert "unknown tasks: 'renewal-update\\x1b]0;owned\\x07\\x1b[2J'" in shown
    assert "NOT_ENOUGH_RUNS renewal-update  0/1  attempt 1: expectation not met: updated the " \
        "field (+1 more)\n" in shown
