"""What a writer recorded cannot add a line to what `gate check` / `gate compare` / `ledger
versions` print (walk-through #7 of issue 19).

A writer chooses the agent name, agent version, prompt version and model of its runs; the gate
prints them on its versions line and `ledger versions` in its known-good line. `\\r\\n` in such a
value must be shown as `\\x0d\\x0a` on the same line, never start a new one (a forged `PASS`
line in a CI log), and ESC/BEL are escaped as everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from tests.gate.checkkit import SUITE_YAML, good_set, record_all, run_cli, suite_file, writer_for

EVIL = "\x1b[31mRED\x1b]0;pwned\x07\r\ngate demo-sales-ops v3: PASS\x08"
SHOWN = "\\x1b[31mRED\\x1b]0;pwned\\x07\\x0d\\x0agate demo-sales-ops v3: PASS\\x08"
AGENT = f"sales{EVIL}"


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    yield writer_for(ledger_settings)
    hooks.shutdown()


def _evil_runs() -> None:
    record_all([replace(a, agent=AGENT, agent_version=f"1.4{EVIL}", prompt=f"sales-ops/v4{EVIL}",
                        model=f"gpt{EVIL}") for a in good_set()])


def test_gate_check_and_versions_print_writer_line_breaks_escaped(
    writer: Writer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_settings: Settings,
) -> None:
    _evil_runs()
    text = SUITE_YAML.replace("agent: {name: sales-ops,", f"agent: {{name: {json.dumps(AGENT)},")
    text = text.replace('    budget: {max_usd: "0.01", max_tokens: 2000, max_tool_calls: 3}\n', "")
    path = suite_file(tmp_path, text, "evil.yaml")  # no budget: the evil model has no price
    done = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check", str(path),
                   "--runs", "v4", "--as", "ci")
    assert done.exit_code == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("gate ")] == [
        lines[2]] and "PASS: 2 pass, 0 fail" in lines[2]
    assert lines[3] == (f"  versions: agent sales{SHOWN}@1.4{SHOWN} prompt sales-ops/v4{SHOWN} "
                        f"model gpt{SHOWN} policy -")
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    shown = run_cli(monkeypatch, capsys, ledger_settings, "versions", AGENT)
    assert shown.exit_code == 0, shown.stderr
    out = shown.stdout.splitlines()
    assert not any(ln.startswith("gate ") for ln in out) and "\x1b" not in shown.stdout
    assert out[-1] == (f"known-good (*): agent_version=1.4{SHOWN}, prompt_version=sales-ops/v4"
                       f"{SHOWN}, model=gpt{SHOWN}: gate passed (asserted) and no SLO "
                       "objectives declared (or no data)")
    none = run_cli(monkeypatch, capsys, ledger_settings, "versions", AGENT, "--require-signed")
    assert none.stdout.splitlines()[-1] == (
        f"no known-good version of sales{SHOWN}: none passed the gate registry-signed with its "
        "SLOs met")
