"""Forged args hashes, as a hostile writer would send them through `ledger ingest`.

Since issue 17 ingest and the sequencer refuse an event whose `args_hash` is not the hash of the
args beside it (ledger/bodyrules.py). From the attacker's side each forgery below therefore ends
rejected with that exact reason, the rest of its run rejected as broken there, and nothing of it
in the log (`refused_at_door`). Logs sequenced before issue 17 can still hold such events, so
replay's own defence stays tested: the same lines stored without the body rules
(`stored_pre17`) still fail on both replay paths, with the reasons replay gave before.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.events import args_hash
from tests.replay.authority_kit import Kit
from tests.replay.conftest_db import as_json, verdicts, write
from tests.replay.forged_kit import (
    LARGE,
    PACK,
    SMALL,
    Cli,
    as_lines,
    both_paths,
    refused_at_door,
    run_lines,
    signer,
    stored_pre17,
)

ALICE, BOB = "alice@example.com", "bob@example.com"


def _refused_then_replayed(
    cli: Cli, conn: psycopg.Connection, settings: Settings, pack: Path, **kw: Any
) -> tuple[str, str]:
    """The run's call (line 4) is refused at the door; the same run as a pre-issue-17 log holds
    it gives (outcome, explanation) of the approval rule on both replay paths."""
    claimed, actual = kw["started_hash"], args_hash(kw["ran"])
    door = str(uuid.uuid4())
    refused_at_door(cli, conn, door, run_lines(door, **kw), line=4, claimed=claimed,
                    actual=actual)
    old = str(uuid.uuid4())
    stored_pre17(conn, settings, run_lines(old, **kw))
    return both_paths(cli, conn, pack, old)


def test_args_hash_of_a_smaller_refund_fails(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    """The approval and the started event both carry the $250 hash; the args say $9,999."""
    pack = write(tmp_path / "p.yaml", PACK)
    small, large = args_hash(SMALL), args_hash(LARGE)
    outcome, why = _refused_then_replayed(
        cli, ledger_conn, ledger_settings, pack, user=ALICE, approver=BOB, approved=SMALL,
        ran=LARGE, started_hash=small)
    assert outcome == "fail"
    assert why == (
        "refund (call-1) ran with args that differ from the approved args: "
        f"approval ap-1 binds args_hash {small} but the call's recorded args hash to {large}; "
        f"and refund (call-1) records args_hash {small} but its recorded args hash to {large}"
    ), why


def test_args_hash_field_alone_lies_fails(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    """Approval of the real args, but the started event's field is wrong: the record is forged."""
    pack = write(tmp_path / "p.yaml", PACK)
    small, large = args_hash(SMALL), args_hash(LARGE)
    outcome, why = _refused_then_replayed(
        cli, ledger_conn, ledger_settings, pack, user=ALICE, approver=BOB, approved=LARGE,
        ran=LARGE, started_hash=small)
    assert outcome == "fail"
    assert why == (
        f"refund (call-1) records args_hash {small} but its recorded args hash to {large}"
    ), why


def test_signed_approval_of_a_smaller_refund_fails(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    signing: Kit,
) -> None:
    """Bob genuinely signed the $250 refund; the call that ran records $9,999."""
    pack = write(tmp_path / "p.yaml", PACK)
    small, large = args_hash(SMALL), args_hash(LARGE)
    outcome, why = _refused_then_replayed(
        cli, ledger_conn, ledger_settings, pack, user=ALICE, approver=BOB, approved=SMALL,
        ran=LARGE, started_hash=small, sign=signer(signing, BOB, SMALL))
    assert outcome == "fail"
    assert why == (
        "refund (call-1) ran with args that differ from the approved args: "
        f"approval ap-1 binds args_hash {small} but the call's recorded args hash to {large}; "
        f"and refund (call-1) records args_hash {small} but its recorded args hash to {large}"
        " (+1 more)"
    ), why


LOOP_PACK = "loops: {max_identical_calls: 3}\n"
LOOP_RULE = "loops.max_identical_calls"


def test_fake_hashes_do_not_hide_a_loop(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    """Twelve identical lookups, each started event claiming a different `args_hash`: the door
    refuses the first (line 2) and so the run after it; stored as a pre-issue-17 log holds it,
    the loop rule groups calls by the hash of their recorded args, so it still fails on both
    paths."""
    pack = write(tmp_path / "loop.yaml", LOOP_PACK)
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
    door = str(uuid.uuid4())
    refused_at_door(cli, ledger_conn, door, as_lines(door, principal, bodies), line=2,
                    claimed=f"{0:064x}", actual=args_hash(args))
    run_id = str(uuid.uuid4())
    stored_pre17(ledger_conn, ledger_settings, as_lines(run_id, principal, bodies))
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
