"""`gate run` records the policy its attempts are judged by (walk-through #2 of issue 19).

The agent's runs record no policy_hash of their own (no enforcement configured), yet the judge
applies the pack in force. The runner tags each attempt with that pack's hash, so the gate
result's versions, the printed versions line, `--runs policy=...` and `ledger versions` name
the policy the release passed under."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from ledger import hooks
from ledger.config import Settings
from ledger.events import decode_event
from replay.policy import load_pack_text
from replay.policy.published import publish_policy
from tests.gate.checkkit import run_cli, suite_file

SUITE = """\
suite: plain
version: "1"
agent: {name: flaky, entrypoint: "tests.gate.runagents:agent", params: {mode: m1}}
repeats: 2
min_repeats: 2
tasks:
  - id: fine
    input: {do: ok}
    expect: ['run.status == "succeeded"']
"""


def test_gate_run_tags_and_shows_the_pack_in_force(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    pack = load_pack_text("max_tool_calls: 5\n", "p.yaml")
    publish_policy(ledger_conn, ledger_settings, pack)
    path = str(suite_file(tmp_path, SUITE))
    try:
        done = run_cli(monkeypatch, capsys, ledger_settings, "gate", "run", path, "--label", "p1")
        listed = run_cli(monkeypatch, capsys, ledger_settings, "gate", "run", path, "--label",
                         "p2", "--json")
    finally:
        hooks.shutdown()
    assert done.exit_code == 0, done.stdout + done.stderr
    assert (f"  versions: agent flaky@- prompt flaky/m1 model - policy "
            f"{pack.policy_hash[:12]}") in done.stdout.splitlines()
    out = json.loads(listed.stdout)
    assert [v["policy_hash"] for v in out["versions"]] == [pack.policy_hash]
    body = ledger_conn.execute("SELECT body FROM ledger_events WHERE run_id = %s AND type = "
                               "'run.started'", (out["attempts"][0]["run_id"],)).fetchone()
    event = decode_event(bytes(body[0]))
    assert event.versions.policy_hash is None  # the agent's own envelope names none
    assert event.data.attributes["gate"]["policy_hash"] == pack.policy_hash
    check = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check", path, "--runs",
                    f"p1,policy={pack.policy_hash[:8]}", "--no-record")
    assert check.exit_code == 0, check.stdout + check.stderr
    versions = run_cli(monkeypatch, capsys, ledger_settings, "versions", "flaky")
    row = versions.stdout.splitlines()[1].split()
    assert row[:4] == ["*", "-", "flaky/m1", "-"] and row[4] == pack.policy_hash[:12]
    assert versions.stdout.splitlines()[-1].startswith(
        f"known-good (*): prompt_version=flaky/m1, policy_hash={pack.policy_hash}: gate passed")
