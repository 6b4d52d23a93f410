"""Replay and `ledger check` on interrupted runs (issue 17): a suspended run is open and
waiting (shown `suspended`, no failure), a resumed run is one run, and an abandoned one is
ended. Real PostgreSQL, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.serve_abandon import abandon_idle
from ledger.store.sequencer import try_sequence


def _verdicts(cli: Any, run_id: Any, pack: Path) -> dict[str, tuple[str, str]]:
    res = cli("check", "--run", str(run_id), "--json", "--policy", str(pack))
    report = json.loads(res.stdout)
    assert len(report["runs"]) == 1
    return {v["rule_id"]: (v["outcome"], v["explanation"])
            for v in report["runs"][0]["verdicts"]}


def _status(cli: Any, run_id: Any) -> str:
    res = cli("runs", "--json")
    assert res.exit_code == 0, res.stderr
    return next(r["status"] for r in json.loads(res.stdout)["runs"] if r["run_id"] == str(run_id))


def test_suspended_is_waiting_not_failed_resumed_is_one_run_abandoned_is_ended(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any,
    tmp_path: Path,
) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text("capture: {}\nmax_tool_calls: 5\n")
    with ledger.run(agent="desk-bot", user="fay") as run:
        run.llm_call(model="gpt-4o", input_tokens=20, output_tokens=2)
        run.suspend("interrupt", resume_key="k:desk")
    assert writer.flush()
    assert _status(cli, run.run_id) == "suspended"
    verdicts = _verdicts(cli, run.run_id, pack)
    assert verdicts["capture.run_ended"] == (
        "pass", "run suspended, waiting to be resumed (no run.ended yet)")
    assert not [k for k, (outcome, _) in verdicts.items() if outcome == "fail"], verdicts

    with ledger.resume(run.run_id) as again:
        again.llm_call(model="gpt-4o", input_tokens=20, output_tokens=2)
        again.suspend()
    assert writer.flush()
    assert _status(cli, run.run_id) == "suspended"
    ended = abandon_idle(ledger_conn, ledger_settings, 0.001)
    assert ended == [run.run_id]
    try_sequence(ledger_conn, ledger_settings)
    assert _status(cli, run.run_id) == "abandoned"
    verdicts = _verdicts(cli, run.run_id, pack)
    assert verdicts["capture.run_ended"] == ("pass", "run.ended recorded (abandoned)")
    assert verdicts["capture.gaps"][0] == "pass"
    assert not [k for k, (outcome, _) in verdicts.items() if outcome == "fail"], verdicts
    res = cli("runs", "--json")
    assert [r["event_count"] for r in json.loads(res.stdout)["runs"]
            if r["run_id"] == str(run.run_id)] == [9]
