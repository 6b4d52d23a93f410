"""Approval decisions recorded outside the requesting run, through the real hooks and CLI.

`ledger.decide()` from another process (or after the run ended) writes approval.decided as a
single-event run bound by tool_call_id. Replay joins it to the run whose call it names (see
replay/dbread.py): the positive case lives in test_db_policy.py; here the evidence it yields,
deterministic replay, and the negative case (a decision naming another call approves nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

import ledger.hooks as hooks
from ledger.hooks.writer import Writer
from tests.replay.conftest_db import as_json, failing, record, spec, verdicts, write

Cli = Callable[..., Any]


def test_decision_elsewhere_is_evidence_and_replays_identically(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Cli
) -> None:
    """The joined decision's own event id is the evidence; replay/check see it the same way."""
    decided: list[str] = []

    def step(run: hooks.Run) -> None:
        approval = run.request_approval("delete_record", {"id": 4}, reason="irreversible")
        assert hooks.flush()
        decided.append(
            str(
                hooks.decide(
                    "ticket-2",
                    approver="bob",
                    roles=["ops"],
                    tool_call_id=approval.tool_call_id,
                    args_hash=approval.args_hash,
                )
            )
        )
        assert hooks.flush()
        run.tool_ended(
            run.tool_started("delete_record", {"id": 9}, tool_call_id=approval.tool_call_id),
            result="done",
        )

    run_id = record(spec(step))
    v = verdicts(
        ledger_conn,
        "policies: {require_approval_for: [{action: delete_record, any: true}]}",
        run_id,
    )["approval.delete_record"]
    assert v.outcome == "fail" and "differ from the approved" in v.explanation, v
    assert v.evidence[0] == decided[0], (v.evidence, decided)
    first, second = cli("replay", run_id, "--json"), cli("replay", run_id, "--json")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    state = as_json(first.stdout)
    [approval] = [a for a in state["approvals"] if a["decided_event_id"] == decided[0]]
    assert approval["decided_run_id"] not in (None, run_id)
    assert decided[0] not in {t["event_id"] for t in state["timeline"]}
    assert not state["gaps"], state["gaps"]


def test_decision_in_another_run_for_another_call_does_not_approve(
    writer: Writer, ledger_conn: psycopg.Connection, cli: Cli, tmp_path: Path
) -> None:
    """Same args, same tool, but the other run's decision names a different tool_call_id."""

    def step(run: hooks.Run) -> None:
        approval = run.request_approval("delete_record", {"id": 3}, reason="irreversible")
        assert hooks.flush()
        hooks.decide(
            "reviewer-ticket-9",
            approver="bob",
            roles=["ops"],
            tool_call_id="some-other-call",
            args_hash=approval.args_hash,
        )
        assert hooks.flush()
        run.tool_ended(
            run.tool_started("delete_record", {"id": 3}, tool_call_id=approval.tool_call_id),
            result="done",
        )

    run_id = record(spec(step))
    assert ledger_conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'approval.decided' AND run_id <> %s",
        (run_id,),
    ).fetchone() == (1,)
    pack = "policies: {require_approval_for: [{action: delete_record, any: true}]}"
    v = verdicts(ledger_conn, pack, run_id)["approval.delete_record"]
    assert v.outcome == "fail" and "without an approval" in v.explanation, v
    res = cli("check", "--policy", str(write(tmp_path / "p.yaml", pack)), "--run", run_id, "--json")
    assert res.exit_code == 1, res.stderr
    assert failing(as_json(res.stdout)) == {"approval.delete_record"}
