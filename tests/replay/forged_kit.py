"""Shared by the forged-approval tests: runs as raw `ledger ingest` lines, and the verdict of
the approval rule on both replay paths (tests/replay/test_forged_approvals.py,
tests/replay/test_forged_args_hash.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from ledger.authority.service import load_history
from ledger.config import Settings
from ledger.events import args_hash
from ledger.ingest import SEQUENCED, ingest
from replay.authority import NO_TRUST_NOTE
from tests.ledgerkit import without_body_rules
from tests.replay.authority_kit import Kit
from tests.replay.conftest_db import CURRENT, as_json, verdicts

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


def run_lines(
    run_id: str,
    *,
    user: str,
    approver: str,
    approved: dict[str, Any],
    ran: dict[str, Any],
    started_hash: str | None = None,
    sign: Callable[[str], dict[str, Any]] | None = None,
    roles: tuple[str, ...] = ("finance_lead",),
    call: str = "call-1",
    edited: dict[str, Any] | None = None,
) -> bytes:
    """One run as JSON lines (no hashes or seqs: ingest chains them): run.started,
    approval.requested, approval.decided, tool.call.started (line 4), tool.call.ended, run.ended.

    `sign(run_id)` gives the signature fields of the decision (None: unsigned, as before).
    """
    principal = {"initiating_user": user, "roles": ["support"]}
    approval = "ap-1" if call == "call-1" else f"ap-{call}"
    decided = {"approval_id": approval, "tool_call_id": call, "args_hash": args_hash(approved),
               "decision": "approved", "approver": {"id": approver, "roles": list(roles)},
               **(sign(run_id) if sign else {})}
    if edited is not None:
        decided.update(decision="edited", edited_args=edited, edited_args_hash=args_hash(edited))
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("run.started", {"task": "refund"}),
        ("approval.requested", {"approval_id": approval, "tool_call_id": call, "tool": "refund",
                                "args_hash": args_hash(approved), "args": approved}),
        ("approval.decided", decided),
        ("tool.call.started", {"tool_call_id": call, "tool": "refund", "side_effect": True,
                               "args": ran, "args_hash": started_hash or args_hash(ran)}),
        ("tool.call.ended", {"tool_call_id": call, "tool": "refund", "status": "ok"}),
        ("run.ended", {"status": "succeeded", "event_count": 6}),
    ]
    return as_lines(run_id, principal, bodies)


def as_lines(run_id: str, principal: dict[str, Any], bodies: list[tuple[str, Any]]) -> bytes:
    lines = [
        json.dumps({"type": t, "run_id": run_id, "principal": principal, "data": d})
        for t, d in bodies
    ]
    return ("\n".join(lines) + "\n").encode()


def ingest_run(cli: Cli, **kw: Any) -> str:
    """`run_lines` through `ledger ingest`, all sequenced; returns the run id."""
    run_id = str(uuid.uuid4())
    res = cli("ingest", "-", input=run_lines(run_id, **kw))
    assert res.exit_code == 0, res.stderr
    return run_id


def refused_at_door(
    cli: Cli, conn: psycopg.Connection, run_id: str, lines: bytes, *, line: int,
    claimed: str, actual: str,
) -> None:
    """The attacker's `ledger ingest` of `lines`: line `line` is rejected because its args_hash
    `claimed` is not the hash `actual` of its args, every later line of the run is rejected as
    broken there, and the log holds exactly the lines before it (nothing of the forgery)."""
    total = len(lines.splitlines())
    res = cli("ingest", "-", input=lines)
    assert res.exit_code == 1, res.stderr
    assert res.stderr.splitlines() == [
        f"line {line}: args_hash {claimed[:16]}... does not match the args "
        f"(their hash is {actual})",
        *(f"line {n}: run {run_id} broken at line {line}" for n in range(line + 1, total + 1)),
        f"{line - 1} sequenced, 0 already present, {total - line + 1} rejected",
    ], res.stderr
    logged = conn.execute(
        "SELECT run_seq, type FROM ledger_events WHERE run_id = %s ORDER BY run_seq", (run_id,)
    ).fetchall()
    sent = [json.loads(x)["type"] for x in lines.splitlines()]
    assert [(int(s), str(t)) for s, t in logged] == list(enumerate(sent[: line - 1])), logged


def stored_pre17(conn: psycopg.Connection, settings: Settings, lines: bytes) -> None:
    """Sequence `lines` as a log written before issue 17 holds them (no body rules)."""
    with without_body_rules():
        result = ingest(conn, lines.splitlines(), settings)
    assert [o.outcome for o in result.lines] == [SEQUENCED] * len(result.lines), result.rejected


def both_paths(
    cli: Cli, conn: psycopg.Connection, pack: Path, run_id: str, pack_text: str = PACK
) -> tuple[str, str]:
    """(outcome, explanation) of the rule; asserts bulk and per-run replay agree exactly.

    With the `signing` fixture active both paths use its trust root (`--trust-root` for the
    CLI); without it neither has one, and `ledger check` says so in one line on stderr.
    """
    per_run = verdicts(conn, pack_text, run_id)[RULE]
    root = ("--trust-root", str(CURRENT[0].root_file)) if CURRENT else ()
    for extra in (("--run", run_id), ("--since", "1h", "--jobs", "2")):
        res = cli("check", "--policy", str(pack), *root, *extra, "--json")
        assert res.exit_code in (0, 1), res.stderr
        assert res.stderr.splitlines() == ([] if CURRENT else [NO_TRUST_NOTE]), res.stderr
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


def signer(kit: Kit, approver: str, what: dict[str, Any], **kw: Any) -> Callable[[str], Any]:
    """Sign as `approver` would for call-1 of the run being ingested (overrides in `kw`)."""

    def sign(run_id: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"run_id": run_id, "call": "call-1", "tool": "refund",
                                  "args": what, "approver": approver}
        return kit.signed_fields(**{**fields, **kw})

    return sign


def in_force_seq(conn: psycopg.Connection, kit: Kit, digest: str) -> int:
    found = load_history(conn, kit.origin, kit.root).by_digest(digest)
    assert found is not None
    return found[0]
