"""What a user sees for their own mistakes: one line on stderr and the documented exit code.

No command may print a pydantic or psycopg traceback, or a link to the pydantic docs, for a
file or value the user gave. The exit codes are `ledger.errors.ExitCode` (docs/cli.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ExitCode

UNREACHABLE = {"LEDGER_DSN": "postgresql://x@127.0.0.1:1/x"}


def _one_line(res: Any, code: ExitCode, *needles: str) -> str:
    assert res.exit_code == code, (res.exit_code, res.stderr)
    lines = [ln for ln in res.stderr.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1, res.stderr
    for bad in ("Traceback", "pydantic.dev", "errors.pydantic", "psycopg."):
        assert bad not in res.stderr, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_bad_plan_file(cli: Any, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"plan": {}, "plan_digest": "x"}))
    line = _one_line(cli("undo", "dry-run", str(plan)), ExitCode.USAGE, "error: invalid input")
    assert "plan_id: Field required" in line  # the field path and message, not a dump
    plan.write_text("not json")
    _one_line(cli("undo", "approve", str(plan), "--as", "carol"), ExitCode.USAGE, str(plan))


def test_bad_policy_file(cli: Any, tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text("policy: {id: p, version: '1', owner: me}\nmax_tool_calls: lots\n")
    args = ("policy", "publish", str(pack))
    _one_line(cli(*args), ExitCode.USAGE, f"error: {pack}:2: max_tool_calls")
    pack.write_text("name: [unclosed\n")
    _one_line(cli("check", "--policy", str(pack)), ExitCode.USAGE, "YAML")


def test_bad_contract_file(cli: Any, tmp_path: Path) -> None:
    contract = tmp_path / "contracts.yaml"
    contract.write_text("tool: crm.update\nside_effect: maybe-not-a-kind\n")
    args = ("undo", "coverage", "--contracts", str(contract))
    _one_line(cli(*args), ExitCode.USAGE, f"error: {contract}:")


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--since", "yesterday"),
        ("undo", "coverage", "--until", "2026-02-30"),
        ("undo", "plan", "--since", "soon"),
        ("export", "--since", "last week", "--until", "1d", "--out", "x"),
    ],
)
def test_bad_time(cli: Any, args: tuple[str, ...]) -> None:
    flag = args[args.index(next(a for a in args if a in ("--since", "--until")))]
    _one_line(cli(*args), ExitCode.USAGE, f"error: {flag} ", "is not a time", "24h")


@pytest.mark.parametrize(
    "args",
    [
        ("check",),
        ("replay", "00000000-0000-7000-8000-000000000000"),
        ("policy", "list"),
        ("undo", "coverage"),
        ("export", "--since", "7d", "--until", "1h", "--out", "x"),
        ("keys", "rotate"),
        ("prove", "--run", "00000000-0000-7000-8000-000000000000"),
    ],
)
def test_unreachable_database(cli: Any, args: tuple[str, ...]) -> None:
    _one_line(cli(*args, env=UNREACHABLE), ExitCode.DATABASE, "database")


def test_deprecated_actor_flag_warns_once_and_still_works(cli: Any) -> None:
    res = cli("undo", "plan", "--by", "ivan")  # no scope: a usage error after the note
    notes = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
    assert notes == ["warning: --by is deprecated and goes away in the next release; use --as"]
    _one_line(res, ExitCode.USAGE, "give run ids")
    both = cli("undo", "plan", "--as", "dana", "--by", "ivan")
    _one_line(both, ExitCode.USAGE, "give --as or --by, not both")


def test_approve_needs_a_principal(cli: Any, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    _one_line(cli("undo", "approve", str(plan)), ExitCode.USAGE, "--as PRINCIPAL")
