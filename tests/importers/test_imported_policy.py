"""Policy can tell imported from witnessed evidence: `approvals[].imported`, `run.imported`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from ledger.events import args_hash

PACK = """\
policy: {id: imported-evidence, version: "1"}
rules:
  - id: witnessed-approvals
    description: a refund needs an approval the ledger witnessed, not one copied from a trace
    expr: approvals.all(a, !a.imported)
  - id: imported-runs-flagged
    description: imported history is accepted only when no gap was recorded in it
    expr: "!run.imported || run.gaps == 0"
"""


def _refund_run(trust: str) -> tuple[uuid.UUID, str]:
    """A run in which an approved refund executed; every event has the given trust."""
    run_id = uuid.uuid4()
    args = {"order": "A1", "amount": 40}
    h = args_hash(args)
    call, approval = f"c-{run_id}", f"ap-{run_id}"  # decisions are matched across runs by id
    base = {"run_id": str(run_id), "trust": trust, "agent": {"name": "support"},
            "principal": {"initiating_user": "alice"}}
    rows: list[dict[str, Any]] = [
        {"type": "run.started", "data": {}},
        {"type": "approval.requested", "data": {"approval_id": approval, "tool_call_id": call,
                                                "tool": "refund", "args_hash": h}},
        {"type": "approval.decided", "data": {"approval_id": approval, "tool_call_id": call,
                                              "args_hash": h, "decision": "approved",
                                              "approver": {"id": "manager"}}},
        {"type": "tool.call.started", "data": {"tool_call_id": call, "tool": "refund",
                                               "args": args, "args_hash": h,
                                               "side_effect": True}},
        {"type": "tool.call.ended", "data": {"tool_call_id": call, "tool": "refund",
                                             "status": "ok"}},
        {"type": "run.ended", "data": {"status": "succeeded", "event_count": 6}},
    ]
    return run_id, "\n".join(json.dumps({**base, **row}) for row in rows) + "\n"


def _verdicts(cli: Any, pack: Path, run_id: uuid.UUID) -> tuple[int, dict[str, str]]:
    res = cli("check", "--policy", str(pack), "--run", str(run_id), "--json")
    assert res.stdout, res.stderr
    runs = json.loads(res.stdout)["runs"]
    return res.exit_code, {v["rule_id"]: v["outcome"] for v in runs[0]["verdicts"]}


def test_rule_refuses_imported_approvals(cli: Any, tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    live, live_lines = _refund_run("live")
    imported, imported_lines = _refund_run("imported")
    for lines in (live_lines, imported_lines):
        res = cli("ingest", "-", input=lines.encode())
        assert res.exit_code == 0, res.stderr
    code, verdicts = _verdicts(cli, pack, live)
    assert code == 0
    assert (verdicts["rules.witnessed-approvals"], verdicts["rules.imported-runs-flagged"]) == (
        "pass", "pass")
    code, verdicts = _verdicts(cli, pack, imported)
    assert code == 1
    assert (verdicts["rules.witnessed-approvals"], verdicts["rules.imported-runs-flagged"]) == (
        "fail", "pass")
