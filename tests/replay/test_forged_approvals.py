"""Forged approvals written as a hostile writer would: raw events through `ledger ingest`.

The agent host holds writer credentials (issue 14), so it can record any approval it likes. Two
forgeries must fail `ledger check` without any principal registry: an approval by the initiating
user spelled with other case, and an approval bound to the hash of a $250 refund on a call whose
recorded args say $9,999 (the started event's own `args_hash` field lies too). Each case is
checked on both replay paths: the bulk check (`ledger check`, msgspec fast decoding) and the
per-run fold (`replay.dbread.fold_run`, pydantic), which must give the same verdict and reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from ledger.events import args_hash
from replay.policy.schema import ApprovalRule
from tests.replay.conftest_db import as_json, verdicts, write

Cli = Callable[..., Any]

PACK = """\
policies:
  require_approval_for:
    - action: refund
      threshold_usd: 200
      approver_roles: [finance_lead]
      forbid_self_approval: true
      bind_args: true
"""
RULE = "approval.refund"
SMALL = {"order": "A-17", "amount_usd": "250.00"}
LARGE = {"order": "A-17", "amount_usd": "9999.00"}


def _ingest(
    cli: Cli,
    *,
    user: str,
    approver: str,
    approved: dict[str, Any],
    ran: dict[str, Any],
    started_hash: str | None = None,
) -> str:
    """One run as JSON lines (no hashes or seqs: ingest chains them); returns its run id."""
    run_id = str(uuid.uuid4())
    principal = {"initiating_user": user, "roles": ["support"]}
    call = "call-1"
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("run.started", {"task": "refund"}),
        ("approval.requested", {"approval_id": "ap-1", "tool_call_id": call, "tool": "refund",
                                "args_hash": args_hash(approved), "args": approved}),
        ("approval.decided", {"approval_id": "ap-1", "tool_call_id": call,
                              "args_hash": args_hash(approved), "decision": "approved",
                              "approver": {"id": approver, "roles": ["finance_lead"]}}),
        ("tool.call.started", {"tool_call_id": call, "tool": "refund", "side_effect": True,
                               "args": ran, "args_hash": started_hash or args_hash(ran)}),
        ("tool.call.ended", {"tool_call_id": call, "tool": "refund", "status": "ok"}),
        ("run.ended", {"status": "succeeded", "event_count": 6}),
    ]
    lines = [
        json.dumps({"type": t, "run_id": run_id, "principal": principal, "data": d})
        for t, d in bodies
    ]
    res = cli("ingest", "-", input=("\n".join(lines) + "\n").encode())
    assert res.exit_code == 0, res.stderr
    return run_id


def _both_paths(
    cli: Cli, conn: psycopg.Connection, pack: Path, run_id: str
) -> tuple[str, str]:
    """(outcome, explanation) of the rule; asserts bulk and per-run replay agree exactly."""
    per_run = verdicts(conn, PACK, run_id)[RULE]
    for extra in (("--run", run_id), ("--since", "1h", "--jobs", "2")):
        res = cli("check", "--policy", str(pack), *extra, "--json")
        assert res.exit_code in (0, 1), res.stderr
        [bulk] = [
            v
            for r in as_json(res.stdout)["runs"]
            if r["run_id"] == run_id
            for v in r["verdicts"]
            if v["rule_id"] == RULE
        ]
        assert (bulk["outcome"], bulk["explanation"]) == (per_run.outcome, per_run.explanation)
        assert res.exit_code == (1 if per_run.outcome == "fail" else 0), res.stdout
    return per_run.outcome, per_run.explanation


def test_pack_binds_args_and_forbids_self_approval() -> None:
    """The attacks below are against the rule the issue names; keep the pack honest."""
    rule = ApprovalRule(action="refund", threshold_usd="200", approver_roles=("finance_lead",),
                        forbid_self_approval=True, bind_args=True)
    assert rule.bind_args and rule.forbid_self_approval


def test_self_approval_by_case_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """`Alice@Example.com` approving `alice@example.com`'s refund is self-approval."""
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = _ingest(cli, user="alice@example.com", approver=" Alice@Example.COM",
                     approved=LARGE, ran=LARGE)
    outcome, why = _both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "fail"
    assert why == "alice@example.com approved their own refund (call-1)", why


def test_args_hash_of_a_smaller_refund_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """The approval and the started event both carry the $250 hash; the args say $9,999."""
    pack = write(tmp_path / "p.yaml", PACK)
    small, large = args_hash(SMALL), args_hash(LARGE)
    run_id = _ingest(cli, user="alice@example.com", approver="bob@example.com",
                     approved=SMALL, ran=LARGE, started_hash=small)
    outcome, why = _both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "fail"
    assert why == (
        "refund (call-1) ran with args that differ from the approved args: "
        f"approval ap-1 binds args_hash {small} but the call's recorded args hash to {large}; "
        f"and refund (call-1) records args_hash {small} but its recorded args hash to {large}"
    ), why


def test_args_hash_field_alone_lies_fails(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Approval of the real args, but the started event's field is wrong: the record is forged."""
    pack = write(tmp_path / "p.yaml", PACK)
    small, large = args_hash(SMALL), args_hash(LARGE)
    run_id = _ingest(cli, user="alice@example.com", approver="bob@example.com",
                     approved=LARGE, ran=LARGE, started_hash=small)
    outcome, why = _both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "fail"
    assert why == (
        f"refund (call-1) records args_hash {small} but its recorded args hash to {large}"
    ), why


def test_honest_approval_passes(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Another person with the role approves exactly the args that ran: pass on both paths."""
    pack = write(tmp_path / "p.yaml", PACK)
    run_id = _ingest(cli, user="alice@example.com", approver="bob@example.com",
                     approved=LARGE, ran=LARGE)
    outcome, why = _both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "pass", why


def test_planted_truncation_marker_is_not_a_pass(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Args the writer claims were truncated cannot be rehashed: unknown, never pass."""
    pack = write(tmp_path / "p.yaml", PACK)
    marker = {"$truncated": True, "original_bytes": 10, "original_sha256": "0" * 64,
              "preview": "", "amount_usd": "9999.00"}
    run_id = _ingest(cli, user="alice@example.com", approver="bob@example.com",
                     approved=LARGE, ran=marker, started_hash=args_hash(LARGE))
    outcome, why = _both_paths(cli, ledger_conn, pack, run_id)
    assert outcome == "unknown", why
    assert why == (
        "refund (call-1) args are not fully recorded (truncated or held privately); "
        "approval ap-1 binding cannot be recomputed"
    ), why


LOOP_PACK = "loops: {max_identical_calls: 3}\n"
LOOP_RULE = "loops.max_identical_calls"


def test_fake_hashes_do_not_hide_a_loop(
    cli: Cli, ledger_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Twelve identical lookups, each started event claiming a different `args_hash`: the loop
    rule groups calls by the hash of their recorded args, so it still fails on both paths."""
    pack = write(tmp_path / "loop.yaml", LOOP_PACK)
    run_id = str(uuid.uuid4())
    args = {"order": "7777"}
    bodies: list[tuple[str, dict[str, Any]]] = [("run.started", {"task": "status"})]
    for i in range(12):
        call = f"call-{i}"
        bodies += [
            ("tool.call.started", {"tool_call_id": call, "tool": "orders.lookup", "args": args,
                                   "args_hash": f"{i:064x}"}),
            ("tool.call.ended", {"tool_call_id": call, "tool": "orders.lookup", "status": "ok"}),
        ]
    bodies.append(("run.ended", {"status": "succeeded", "event_count": len(bodies) + 1}))
    principal = {"initiating_user": "erin@example.com"}
    lines = [
        json.dumps({"type": t, "run_id": run_id, "principal": principal, "data": d})
        for t, d in bodies
    ]
    assert cli("ingest", "-", input=("\n".join(lines) + "\n").encode()).exit_code == 0
    per_run = verdicts(ledger_conn, LOOP_PACK, run_id)[LOOP_RULE]
    assert per_run.outcome == "fail", per_run.explanation
    assert per_run.explanation.startswith(
        "orders.lookup called 12 times with identical args, limit 3"
    ), per_run.explanation
    res = cli("check", "--policy", str(pack), "--run", run_id, "--json")
    assert res.exit_code == 1, res.stdout
    [bulk] = [v for r in as_json(res.stdout)["runs"] for v in r["verdicts"]
              if v["rule_id"] == LOOP_RULE]
    assert (bulk["outcome"], bulk["explanation"]) == (per_run.outcome, per_run.explanation)
