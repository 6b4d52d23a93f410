"""`ledger check`, `show` and `replay --at` as read at 3 a.m. (issue 18): check prints failures,
unknowns and one summary line (`--verbose`: every verdict), show keeps one line per event
whatever a writer put in a field, and `replay --at` outside the run is a one-line usage error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import EventBase
from ledger.store.read import run_events
from tests.ledgerkit import append
from tests.pg.runs_kit import ledger_main, run_of


@pytest.fixture
def judged(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> dict[str, EventBase]:
    """Under `max_tool_calls: 2`: `over` (3 calls) fails it, `fine` (1 call) passes, `vague`
    (1 call, naming no pack) is unknown (`policy.in_force`)."""
    from replay.policy import load_pack

    pack = tmp_path / "pack.yaml"
    pack.write_text("max_tool_calls: 2\n")
    assert ledger_main(ledger_settings, "policy", "publish", str(pack)).code == 0
    named = load_pack(pack).policy_hash
    runs = {"fine": run_of(tools=1, policy_hash=named), "over": run_of(tools=3, policy_hash=named),
            "vague": run_of(tools=1)}
    append(ledger_conn, ledger_settings, [e for events in runs.values() for e in events])
    return {name: events[0] for name, events in runs.items()}


def test_check_prints_failures_and_one_summary_line(
    judged: dict[str, EventBase], ledger_settings: Settings
) -> None:
    out = ledger_main(ledger_settings, "check")
    assert out.code == 1, out.stderr  # exit codes unchanged: a failing rule is 1
    lines = out.stdout.splitlines()
    assert "PASS" not in out.stdout
    assert str(judged["fine"].run_id) not in out.stdout  # nothing to read about a passing run
    assert "  FAIL    max_tool_calls: 3 tool calls, limit 2" in lines
    policy = lines[0].split()[-1]
    assert [ln for ln in lines if ln.startswith("run ")] == [
        f"run {judged[n].run_id}  policy {policy}" for n in ("over", "vague")]
    assert any(ln.startswith("  UNKNOWN policy.in_force: ") for ln in lines)
    assert lines[-1] == f"checked 3 runs: 1 pass, 1 fail (1 rule), 1 unknown; policy {policy}"
    verbose = ledger_main(ledger_settings, "check", "--verbose")
    assert verbose.code == 1
    assert "  PASS    max_tool_calls: 1 tool calls, limit 2" in verbose.stdout.splitlines()
    assert str(judged["fine"].run_id) in verbose.stdout
    assert verbose.stdout.splitlines()[-1] == lines[-1]
    doc = json.loads(ledger_main(ledger_settings, "check", "--json").stdout)
    assert set(doc) == {"runs", "failed"} and doc["failed"] is True  # --json unchanged
    assert len(doc["runs"]) == 3
    one = ledger_main(ledger_settings, "check", "--run", str(judged["fine"].run_id))
    assert (one.code, one.stdout) == (0, f"checked 1 run: 1 pass, 0 fail (0 rules), 0 unknown; "
                                         f"policy {policy}\n")


def test_show_keeps_one_line_per_event(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    hostile = "line one\nline two\r\n\tTAB\x1b[2Jcleared" + "x" * 80
    events = run_of(content=hostile, tools=0)
    append(ledger_conn, ledger_settings, events)
    out = ledger_main(ledger_settings, "show", str(events[0].run_id))
    assert out.code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(events)  # one line per event, whatever the content
    assert "\x1b" not in out.stdout and "\t" not in out.stdout
    message = lines[1]
    assert message.split()[3] == "message.input"
    detail = message.split("message.input", 1)[1].strip()
    assert detail.startswith("line one\\nline two\\r\\n\\tTAB\\x1b[2Jcleared")
    assert len(detail) == 60 and detail.endswith("…")


def test_replay_at_outside_the_run_is_a_usage_error(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    before, events = run_of(), run_of(tools=2)
    append(ledger_conn, ledger_settings, before + events)
    rid = events[0].run_id
    seqs = [s.seq for s in run_events(ledger_conn, rid)]
    first, head = seqs[0], seqs[-1]  # this run is the last one logged: its end is the head
    for at in ("-5", str(first - 1), str(head + 1)):
        out = ledger_main(ledger_settings, "replay", str(rid), "--at", at)
        assert (out.code, out.stdout) == (2, ""), at
        assert out.stderr.strip() == (
            f"error: --at {at} is outside run {rid}: give a seq from {first} (its first event) "
            f"to {head} (the log's head)")
    ok = ledger_main(ledger_settings, "replay", str(rid), "--at", str(first + 1), "--json")
    assert ok.code == 0, ok.stderr
    assert json.loads(ok.stdout)["at_seq"] == first + 1
    real = cli("replay", str(rid), "--at", "-5")  # the real process: one line, exit 2
    assert real.exit_code == 2 and len(real.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_check_jobs_below_one_is_one_line(jobs: str, ledger_settings: Settings) -> None:
    out = ledger_main(ledger_settings, "check", "--jobs", jobs)
    assert (out.code, out.stdout, out.stderr) == (
        2, "", f"error: --jobs must be at least 1 (got {jobs})\n")
