"""Separation of duties in undo, from the attacker's side, through the real `ledger` command.

The plan file is written by whoever generates it, so an attacker can edit it and re-digest it
with the public code; approver names are strings anyone can type. None of that may let an
original actor approve, an approver appear from nowhere, or one person approve and apply alone.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.approver_keys import approver_key_path, create_approver_key, load_approver_signer
from ledger.config import Settings
from ledger.errors import ExitCode, KeyUnavailable
from ledger.keys import KeyFileError
from ledger.store import undo as undo_store
from replay.undo.approvals import approval_message
from replay.undo.model import UndoPlan, read_plan, write_plan
from replay.undo.record import record_plan
from tests.undo.conftest import Agent, crm_snapshot


def _one_line(res: Any, code: int, needle: str) -> str:
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert needle in lines[0], lines[0]
    return lines[0]


def _plan(cli: Any, agent: Agent, tmp_path: Path) -> Path:
    run_id = agent.script(user="alice", approver="bob")
    path = tmp_path / "plan.json"
    res = cli("undo", "plan", str(run_id), "--out", str(path), "--as", "ivan")
    assert res.exit_code == 0, res.stderr
    return path


def _forge(path: Path) -> UndoPlan:
    """What an attacker does: empty the SoD lists in the file and write it re-digested."""
    doc = json.loads(path.read_text())
    doc["plan"]["original_actors"] = []
    doc["plan"]["original_approvers"] = []
    forged = UndoPlan.model_validate(doc["plan"])
    write_plan(forged, path)
    return forged


def _approvals(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'undo.plan.approved'"
    ).fetchone()
    return int(row[0]) if row else 0


def test_edited_redigested_plan_cannot_be_approved_by_an_original_actor(
    cli: Any, agent: Agent, ledger_settings: Settings, tmp_path: Path
) -> None:
    path = _plan(cli, agent, tmp_path)
    assert read_plan(path).original_actors == ("alice",)
    forged = _forge(path)
    assert read_plan(path).original_actors == () and read_plan(path).digest == forged.digest
    for name in ("alice", "bob", "Alice", "BOB"):
        create_approver_key(ledger_settings, name)  # they even hold keys: SoD is what refuses
    line = _one_line(cli("undo", "approve", str(path), "--as", "alice"), 1, "separation of duties")
    assert "alice is an original actor" in line
    line = _one_line(cli("undo", "approve", str(path), "--as", "bob"), 1, "separation of duties")
    assert "bob approved the original actions" in line
    # differing only in case is the same person
    line = _one_line(cli("undo", "approve", str(path), "--as", "Alice"), 1, "separation of duties")
    assert "Alice is an original actor" in line
    line = _one_line(cli("undo", "approve", str(path), "--as", "BOB"), 1, "separation of duties")
    assert "BOB approved the original actions" in line
    assert _approvals(agent.conn) == 0


def test_planted_approval_by_an_original_actor_does_not_count_at_apply(
    cli: Any, agent: Agent, ledger_settings: Settings, tmp_path: Path
) -> None:
    """A writer with database access stores an approval signed with alice's own key for the
    forged plan (bypassing `approve`): apply re-derives SoD from the ledger and ignores it."""
    path = _plan(cli, agent, tmp_path)
    forged = _forge(path)
    created = create_approver_key(ledger_settings, "Alice")
    key = load_approver_signer(ledger_settings, "Alice")
    assert key.vkey == created.vkey
    sig = key.sign(approval_message(forged.digest, "Alice"))
    record_plan(agent.conn, ledger_settings, forged, "ivan")
    undo_store.insert_approval(agent.conn, forged.digest, "Alice", (), key.vkey, sig, uuid.uuid4())
    smtp = f"{agent.smtp.host}:{agent.smtp.port}"
    res = cli("undo", "apply", str(path), "--smtp", smtp, "--as", "ivan")
    _one_line(res, 1, "has no valid approval")


def test_unknown_approver_is_refused_and_no_key_is_made(
    cli: Any, agent: Agent, ledger_settings: Settings, tmp_path: Path
) -> None:
    path = _plan(cli, agent, tmp_path)
    res = cli("undo", "approve", str(path), "--as", "mallory", "--role", "finance-oncall")
    _one_line(res, ExitCode.USAGE, "unknown approver 'mallory'")
    assert "ledger keys approver mallory" in res.stderr
    assert not approver_key_path(ledger_settings, "mallory").exists()
    assert _approvals(agent.conn) == 0


def test_sole_approver_may_not_apply(
    cli: Any, agent: Agent, ledger_settings: Settings, tmp_path: Path
) -> None:
    path = _plan(cli, agent, tmp_path)
    before = crm_snapshot(agent.conn)
    res = cli("keys", "approver", "carol")
    key = approver_key_path(ledger_settings, "carol")
    assert res.exit_code == 0 and f"created: {key}" in res.stdout and "vkey: carol+" in res.stdout
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    res = cli("undo", "approve", str(path), "--as", "carol", "--role", "finance-oncall")
    assert res.exit_code == 0, res.stderr
    smtp = f"{agent.smtp.host}:{agent.smtp.port}"
    for me in ("carol", " Carol"):
        res = cli("undo", "apply", str(path), "--smtp", smtp, "--as", me)
        _one_line(res, 1, "four eyes")
    assert crm_snapshot(agent.conn) == before
    steps = agent.conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type LIKE 'undo.step.%'"
    ).fetchone()
    assert steps == (0,)


def test_second_person_approves_and_a_third_applies(
    cli: Any, agent: Agent, ledger_settings: Settings, tmp_path: Path
) -> None:
    before = crm_snapshot(agent.conn)
    path = _plan(cli, agent, tmp_path)
    res = cli("keys", "approver", "carol", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["created"] is True
    again = cli("keys", "approver", "carol", "--json")  # kept, never replaced
    assert json.loads(again.stdout) == {**json.loads(res.stdout), "created": False}
    res = cli("undo", "approve", str(path), "--as", "carol", "--role", "finance-oncall")
    assert res.exit_code == 0 and read_plan(path).digest in res.stdout, res.stderr
    smtp = f"{agent.smtp.host}:{agent.smtp.port}"
    res = cli("undo", "apply", str(path), "--smtp", smtp, "--as", "ivan", "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "done"
    assert crm_snapshot(agent.conn)["contacts"] == before["contacts"]


def test_approver_key_named_explicitly_is_loaded_never_made_and_bound_to_its_name(
    ledger_settings: Settings, tmp_path: Path
) -> None:
    """`--key FILE` / LEDGER_APPROVER_KEY: the file must exist (nothing is created) and a key
    made for one approver cannot sign as another."""
    carol = create_approver_key(ledger_settings, "carol")
    assert load_approver_signer(ledger_settings, "carol", str(carol.path)).vkey == carol.vkey
    with pytest.raises(KeyFileError, match="expected 'mallory'"):
        load_approver_signer(ledger_settings, "mallory", str(carol.path))
    missing = tmp_path / "nobody.key"
    with pytest.raises(KeyUnavailable, match="no key file at"):
        load_approver_signer(ledger_settings, "nobody", str(missing))
    assert not missing.exists() and not approver_key_path(ledger_settings, "nobody").exists()
