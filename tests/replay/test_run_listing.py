"""Runs cannot hide from `ledger check` and `ledger runs` (review 15, item 4), from the writer's
side: a violating run whose run.started is dated 2001 stays inside `--since 2026-01-01` (the
window also holds runs by the sequencer's `recorded_at`), and a run without run.started is
listed and fails `capture.run_started` instead of vanishing. One ingest, one check, one list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.replay.test_time_bounds import PACK, _lines, _run


def test_backdated_or_headless_runs_are_listed_and_fail(cli: Any, tmp_path: Path) -> None:
    dated, dm = _run(wait_s=30)  # stale approval (30 s > max_age 10 s)
    headless, hm = _run()
    lines = _lines(dated, {str(dm["started"].event_id): "2001-01-01T00:00:00.000000000Z"})
    dropped = (str(hm["started"].event_id), str(hm["decided"].event_id))  # a run may not go on
    lines += [  # after a single-event type such as approval.decided: it starts with the call
        ln for ln in _lines(headless, {}) if not any(i in ln.decode() for i in dropped)
    ]
    res = cli("ingest", "-", input=b"\n".join(lines) + b"\n")
    assert res.exit_code == 0, res.stdout + res.stderr
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    res = cli("check", "--policy", str(pack), "--since", "2026-01-01", "--jobs", "1", "--json")
    assert res.exit_code == 1, res.stdout + res.stderr
    got = {r["run_id"]: {v["rule_id"]: v for v in r["verdicts"]} for r in json.loads(res.stdout)[
        "runs"]}
    assert set(got) == {str(dated.run_id), str(headless.run_id)}
    back = got[str(dated.run_id)]  # its other times are before 2001 + nothing: none passes
    assert {back[r]["outcome"] for r in ("approval.refund", "timeouts.overall_seconds")} <= {
        "fail", "unknown"}
    cap = got[str(headless.run_id)]["capture.run_started"]
    assert cap["outcome"] == "fail", cap
    assert cap["explanation"] == "the run's first event is tool.call.started, not run.started"
    listed = cli("runs", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = {r["run_id"]: r for r in json.loads(listed.stdout)["runs"]}
    assert rows[str(headless.run_id)]["status"] == "no run.started (succeeded)"
    assert str(dated.run_id) in rows
