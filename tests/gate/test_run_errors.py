"""`ledger gate run` when the agent or the suite is wrong: errored attempts, bad input.

An agent that raises (inside its run or before it), or records no run, is an errored attempt:
counted, its reason printable, and the runner goes on; the decision is `fail`. A suite whose
entrypoint cannot be imported or called, or a `--param` the entrypoint cannot take, is bad
input: exit 2, one line, and nothing is run or recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger import hooks
from ledger.config import Settings
from ledger.events import decode_event
from tests.gate.checkkit import run_cli, suite_file

SUITE = """\
suite: flaky
version: "1"
agent: {name: flaky, entrypoint: "ENTRY", params: {mode: m1}}
repeats: 2
min_repeats: 2
tasks:
  - id: raises
    input: {do: raise}
  - id: raises-early
    input: {do: raise_early}
  - id: no-run
    input: {do: no_run}
  - id: two-runs
    input: {do: two_runs}
  - id: fine
    input: {do: ok}
    expect: ['run.status == "succeeded"']
"""


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         ledger_settings: Settings, tmp_path: Path) -> Any:
    def run(*args: str, entry: str = "tests.gate.runagents:agent") -> Any:
        path = suite_file(tmp_path, SUITE.replace("ENTRY", entry))
        return run_cli(monkeypatch, capsys, ledger_settings, "gate", "run", str(path), *args)

    yield run
    hooks.shutdown()


def test_errored_attempts_are_counted_and_the_runner_goes_on(gate: Any, ledger_conn: Any) -> None:
    result = gate("--label", "cand", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["decision"] == "fail"
    tasks = {t["task"]: t for t in out["tasks"]}
    assert {k: (t["attempts"], t["errored"], t["verdict"]) for k, t in tasks.items()} == {
        "raises": (2, 2, "fail"), "raises-early": (2, 2, "fail"), "no-run": (2, 2, "fail"),
        "two-runs": (2, 0, "pass"), "fine": (2, 0, "pass")}
    assert tasks["raises"]["reasons"][0] == (
        "attempt 1: the agent raised ValueError: tool \\x1b[31mexploded\\x1b[0m (+1 more)")
    assert tasks["raises-early"]["reasons"] == [
        "attempt 1: the agent raised TypeError: the agent could not start",
        "attempt 2: the agent raised TypeError: the agent could not start"]
    assert tasks["no-run"]["reasons"][0] == "attempt 1: the agent recorded no run"
    assert tasks["no-run"]["run_ids"] == [] and len(tasks["raises"]["run_ids"]) == 2
    by = {(a["task"], a["attempt"]): a for a in out["attempts"]}
    assert by[("no-run", 1)]["run_id"] is None and by[("no-run", 1)]["errored"] is True
    assert len(by[("two-runs", 2)]["runs"]) == 2  # both tagged; the first is judged
    # ...and every run an attempt started is the gate's evidence (none counts as live traffic)
    assert set(tasks["two-runs"]["run_ids"]) == {
        r for n in (1, 2) for r in by[("two-runs", n)]["runs"]}
    for run_id in by[("two-runs", 2)]["runs"]:
        row = ledger_conn.execute("SELECT body FROM ledger_events WHERE run_id = %s AND "
                                  "type = 'run.started'", (run_id,)).fetchone()
        gate_tag = decode_event(bytes(row[0])).data.attributes["gate"]
        assert (gate_tag["task"], gate_tag["attempt"], gate_tag["label"]) == ("two-runs", 2, "cand")
    ended = ledger_conn.execute("SELECT body FROM ledger_events WHERE run_id = %s AND type = "
                                "'run.ended'", (by[("raises", 2)]["run_id"],)).fetchone()
    assert decode_event(bytes(ended[0])).data.status == "failed"


def test_human_output_names_the_errored_attempts(gate: Any) -> None:
    result = gate("--label", "cand", "--param", "mode=m2", "--no-record")
    assert result.exit_code == 1
    line = "FAIL            raises-early  0/2  attempt 1: the agent raised TypeError"
    assert line in result.stdout
    assert "ran 10 attempts in" in result.stdout and ", 6 errored" in result.stdout
    assert "  no-run attempt 1: the agent recorded no run" in result.stdout
    assert "\x1b" not in result.stdout
    assert result.stderr.strip() == "not recorded (--no-record)"


@pytest.mark.parametrize(("entry", "args", "line"), [
    ("no_such_module.agents:agent", (),
     "error: cannot import the entrypoint's module 'no_such_module.agents': "
     "ModuleNotFoundError: No module named 'no_such_module'"),
    ("tests.gate.runagents:missing", (),
     "error: the entrypoint 'tests.gate.runagents:missing' does not exist"),
    ("tests.gate.runagents:NOT_CALLABLE", (),
     "error: the entrypoint 'tests.gate.runagents:NOT_CALLABLE' is not callable"),
    ("tests.gate.runagents:agent", ("--param", "colour=red"),
     "error: the entrypoint cannot take the params given: got an unexpected keyword argument "
     "'colour'"),
    ("tests.gate.runagents:agent", ("--param", "no-equals"),
     "error: --param 'no-equals': expected NAME=VALUE"),
])
def test_bad_input_is_one_line_and_runs_nothing(gate: Any, ledger_conn: Any, entry: str,
                                                args: tuple[str, ...], line: str) -> None:
    result = gate("--label", "x", *args, entry=entry)
    assert (result.exit_code, result.stderr.strip(), result.stdout) == (2, line, "")
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0] == 0
