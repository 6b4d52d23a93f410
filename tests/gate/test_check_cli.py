"""`ledger gate check` end to end: selection, matching by gate tag, output, exit codes, record.

Exit 0 only on a pass, 1 on fail / not enough runs, 2 on bad input (one line). Runs the selector
names but the suite cannot use (untagged, another suite, an unknown task) are reported, and the
recorded gate.result holds exactly the runs that were evaluated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.gates import gate_results
from ledger.hooks.writer import Writer
from tests.gate.checkkit import (
    Attempt,
    good_set,
    record_all,
    run_cli,
    suite_file,
    writer_for,
)

Ctx = tuple[pytest.MonkeyPatch, pytest.CaptureFixture[str], Settings]


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    yield writer_for(ledger_settings)
    hooks.shutdown()


@pytest.fixture
def ctx(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        ledger_settings: Settings) -> Ctx:
    return monkeypatch, capsys, ledger_settings


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            tmp_path: Path) -> Ctx:
    """For input errors, found before any connection: no database is made for them."""
    return monkeypatch, capsys, Settings(home=tmp_path, dsn="postgresql:///no-such-db")


def gate(ctx: Ctx, *args: str):  # type: ignore[no-untyped-def]
    return run_cli(*ctx, "gate", "check", *args)


def test_a_passing_suite_exits_0_reports_leftovers_and_records_what_it_judged(
    writer: Writer, ctx: Ctx, tmp_path: Path, ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    judged = record_all(good_set())
    leftovers = record_all([
        Attempt(task=None),  # untagged
        Attempt(suite="other-suite"), Attempt(task="not-in-suite"),
        Attempt(agent="someone-else"),  # not selected (agent=sales-ops)
    ])
    done = gate(ctx, str(suite_file(tmp_path)), "--runs", "agent=sales-ops", "--as", "ci")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["PASS", "renewal-update", "2/2"]
    assert lines[1].split() == ["PASS", "ceo-injection", "2/2", "adversarial"]
    assert lines[2].startswith("gate demo-sales-ops v3 (") and lines[2].endswith(
        "): PASS: 2 pass, 0 fail, 0 not enough runs (min 2)")
    assert "runs: 7 selected by agent=sales-ops, 4 matched to tasks" in done.stdout
    for why in ("1 untagged", "1 tagged for another suite", "1 tagged with a task not in the"):
        assert f"  {why}" in done.stdout
    assert "unknown tasks: 'not-in-suite'" in done.stdout
    (result,) = gate_results(ledger_conn, ledger_settings)
    data = result.data
    assert (data.kind, data.decision, data.label, data.recorded_by) == ("check", "pass", None, "ci")
    assert {r for t in data.tasks for r in t.run_ids} == set(judged)
    assert not set(leftovers) & {r for t in data.tasks for r in t.run_ids}
    assert data.authority == "asserted" and "recorded gate.result" in done.stdout


def test_json_fail_exit_1_and_no_record(
    writer: Writer, ctx: Ctx, tmp_path: Path, ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    bad = good_set()
    bad[1] = Attempt(attempt=2, output="could not do it")
    ids = record_all(bad)
    done = gate(ctx, str(suite_file(tmp_path)), "--runs", "v4", "--json", "--no-record")
    assert done.exit_code == 1, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"suite", "suite_version", "suite_hash", "decision", "selector",
                        "selected", "selection", "tasks", "attempts", "versions", "recorded"}
    assert (out["decision"], out["selector"], out["recorded"]) == ("fail", "label=v4", None)
    first = out["tasks"][0]
    assert (first["task"], first["verdict"], first["passed"], first["attempts"]) == (
        "renewal-update", "fail", 1, 2)
    assert first["reasons"] == ['attempt 2: expectation not met: run.output.contains("renewed")']
    assert [a["run_id"] for a in out["attempts"]] == [str(i) for i in ids]
    assert out["selection"]["untagged"] == 0 and len(out["versions"]) == 1
    assert gate_results(ledger_conn, ledger_settings) == []


def test_junit_has_a_testcase_per_task_with_the_recorded_authority(
    writer: Writer, ctx: Ctx, tmp_path: Path,
) -> None:
    from junitparser import Failure, JUnitXml

    bad = good_set()
    bad[1] = Attempt(attempt=2, output="could not do it")
    record_all(bad)
    out = tmp_path / "gate.xml"
    done = gate(ctx, str(suite_file(tmp_path)), "--runs", "v4", "--junit", str(out))
    assert done.exit_code == 1, done.stderr
    (suite,) = JUnitXml.fromfile(str(out))
    cases = {case.name: case for case in suite}
    assert set(cases) == {"renewal-update", "ceo-injection"}
    (failure,) = cases["renewal-update"].result
    assert isinstance(failure, Failure)
    assert not cases["ceo-injection"].result
    props = {p.name: p.value for p in suite.properties()}
    assert props["decision"] == "fail" and props["authority"] == "asserted"


def test_too_few_attempts_is_not_enough_runs_never_a_pass(
    writer: Writer, ctx: Ctx, tmp_path: Path
) -> None:
    record_all(good_set()[:3])
    done = gate(ctx, str(suite_file(tmp_path)), "--runs", "label=v4", "--no-record")
    assert done.exit_code == 1
    assert done.stdout.splitlines()[1].split()[:3] == ["NOT_ENOUGH_RUNS", "ceo-injection", "1/1"]
    assert ": NOT_ENOUGH_RUNS: 1 pass, 0 fail, 1 not enough runs" in done.stdout


def test_nothing_selected_is_not_enough_runs(ctx: Ctx, tmp_path: Path) -> None:
    done = gate(ctx, str(suite_file(tmp_path)), "--runs", "label=never", "--no-record")
    assert done.exit_code == 1 and "runs: 0 selected by label=never" in done.stdout


BAD_INPUT = [
    (["--runs", "colour=blue"], "error: selector 'colour=blue': unknown key 'colour' (known: "),
    (["--runs", "policy=abc"], "error: selector 'policy=abc': policy is a policy hash prefix"),
    (["--runs", "since=yesterday"], "error: since 'yesterday' is not a time"),
]


@pytest.mark.parametrize(("args", "line"), BAD_INPUT, ids=[a[1][:24] for a in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2(
    offline: Ctx, tmp_path: Path, args: list[str], line: str
) -> None:
    done = gate(offline, str(suite_file(tmp_path)), *args)
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr.startswith(line) and done.stderr.count("\n") == 1, done.stderr


def test_a_bad_suite_file_is_error_file_line(offline: Ctx, tmp_path: Path) -> None:
    path = suite_file(tmp_path, "suite: x\nversion: '1'\nagent: {name: a}\nrepeat: 3\n"
                                "tasks: [{id: t}]\n")
    done = gate(offline, str(path), "--runs", "v4")
    assert done.exit_code == 2
    assert done.stderr == f"error: {path}:4: repeat: Extra inputs are not permitted\n"
    missing = gate(offline, str(tmp_path / "nope.yaml"), "--runs", "v4")
    assert missing.exit_code == 2 and "no such file" in missing.stderr
