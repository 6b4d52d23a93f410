"""A suite name is spelled like a task id (walk-through #9 of issue 19): it is printed by every
gate command, recorded in gate.result and in the CC8.1 CSV, so control characters and line
breaks are refused when the suite is loaded, one line naming file and line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import Settings
from tests.gate.checkkit import run_cli, suite_file

BAD = 'suite: "demo\\e[31mX\\nPASS"\nversion: "1"\nagent: {name: a}\ntasks:\n  - id: t\n'


@pytest.mark.parametrize("name", ['"demo\\e[31mX\\nPASS"', "Demo Suite", "-lead"])
def test_a_suite_name_with_controls_or_spaces_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_settings: Settings,
) -> None:
    path = suite_file(tmp_path, BAD.replace('"demo\\e[31mX\\nPASS"', name))
    for command in (("check", "--runs", "x"), ("run", "--label", "x")):
        res = run_cli(monkeypatch, capsys, ledger_settings, "gate", command[0], str(path),
                      *command[1:])
        assert (res.exit_code, res.stdout, res.stderr) == (
            2, "", f"error: {path}:1: suite: String should match pattern "
                   "'^[a-z0-9][a-z0-9._-]*$'\n")


def test_gate_help_names_every_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ledger_settings: Settings,
) -> None:
    """Walk-through #3: the group's help listed (run, check) and left out compare."""
    res = run_cli(monkeypatch, capsys, ledger_settings, "gate", "--help")
    assert res.exit_code == 0
    assert "Release gates: judge golden and adversarial task suites (run, check, compare)." in (
        " ".join(res.stdout.split()))
