"""Separation of duties in undo, from the attacker's side, through the real `ledger` command.

The plan file is written by whoever generates it, so an attacker can edit it and re-digest it
with the public code; approver names are strings anyone can type, and so are roles. None of
that may let an original actor approve, an approver appear from nowhere, a self-declared role
count, a key other than the registered one sign, or one person approve and apply alone. Who
may approve is the principal registry's word (tests/registrykit.py publishes a real one).
"""

from __future__ import annotations

import base64
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
from tests.registrykit import Authority, undo_registry
from tests.undo.conftest import Agent, crm_snapshot


def _one_line(res: Any, code: int, needle: str) -> str:
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert needle in lines[0], lines[0]
    return lines[0]


def _plan(cli: Any, agent: Agent, tmp_path: Path, auth: Authority | None = None) -> Path:
    if auth is not None:
        undo_registry(auth)
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


def _root(auth: Authority) -> tuple[str, str]:
    return ("--trust-root", str(auth.root_file))


def _smtp(agent: Agent) -> str:
    return f"{agent.smtp.host}:{agent.smtp.port}"


def test_edited_redigested_plan_cannot_be_approved_by_an_original_actor(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    """alice and bob are registered approvers with undo grants and keys: only SoD refuses."""
    path = _plan(cli, agent, tmp_path, authority)
    assert read_plan(path).original_actors == ("alice",)
    forged = _forge(path)
    assert read_plan(path).original_actors == () and read_plan(path).digest == forged.digest
    for name in ("alice", "bob"):
        line = _one_line(
            cli("undo", "approve", str(path), "--as", name, *_root(authority)),
            1,
            "separation of duties",
        )
        assert {"alice": "alice is an original actor", "bob": "bob approved the original actions"}[
            name
        ] in line
    # differing only in case is the same person (and the same registered principal)
    line = _one_line(
        cli("undo", "approve", str(path), "--as", "Alice", *_root(authority)), 1, "separation"
    )
    assert "Alice is an original actor" in line
    assert _approvals(agent.conn) == 0


def test_planted_approval_by_an_original_actor_does_not_count_at_apply(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    """A writer with database access stores an approval signed with alice's own registered key
    for the forged plan (bypassing `approve`, projection table only): apply re-judges from the
    ledger's events and finds no approval at all."""
    path = _plan(cli, agent, tmp_path, authority)
    forged = _forge(path)
    key = load_approver_signer(ledger_settings, "alice")
    sig = key.sign(approval_message(ledger_settings.origin(), forged.digest, "alice", ""))
    record_plan(agent.conn, ledger_settings, forged, "ivan")
    undo_store.insert_approval(agent.conn, forged.digest, "alice", (), key.vkey, sig, uuid.uuid4())
    res = cli("undo", "apply", str(path), "--smtp", _smtp(agent), "--as", "ivan", *_root(authority))
    _one_line(res, 1, "has no valid approval")


def test_unknown_approver_is_refused_and_no_key_is_made(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    path = _plan(cli, agent, tmp_path, authority)
    res = cli("undo", "approve", str(path), "--as", "mallory", *_root(authority))
    _one_line(res, 1, "unknown approver 'mallory': not a principal in registry acme v1")
    assert not approver_key_path(ledger_settings, "mallory").exists()
    # holding a key of their own changes nothing: the registry does not name them
    create_approver_key(ledger_settings, "mallory")
    res = cli("undo", "approve", str(path), "--as", "mallory", *_root(authority))
    _one_line(res, 1, "unknown approver 'mallory'")
    assert _approvals(agent.conn) == 0


def test_registered_name_without_a_key_file_is_refused_and_no_key_is_made(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    path = _plan(cli, agent, tmp_path, authority)
    approver_key_path(ledger_settings, "dave").unlink()
    res = cli("undo", "approve", str(path), "--as", "dave", *_root(authority))
    _one_line(res, ExitCode.USAGE, "unknown approver 'dave'")
    assert "ledger keys approver dave" in res.stderr
    assert not approver_key_path(ledger_settings, "dave").exists()


def test_approver_whose_undo_grant_does_not_cover_the_plan_is_refused(
    cli: Any, agent: Agent, authority: Authority, tmp_path: Path
) -> None:
    """erin may approve CRM and mail undo only; the plan also reverses a payments.refund."""
    path = _plan(cli, agent, tmp_path, authority)
    res = cli("undo", "approve", str(path), "--as", "erin", *_root(authority))
    _one_line(res, 1, "approver 'erin' has no undo grant for tool:payments.refund")
    assert _approvals(agent.conn) == 0


def test_renaming_the_refund_step_does_not_bring_it_within_a_narrower_grant(
    cli: Any, agent: Agent, authority: Authority, tmp_path: Path
) -> None:
    """erin edits the plan file so the refund step claims to be a CRM step and re-digests it:
    the scope also comes from the recorded action the step targets, so she is still refused."""
    path = _plan(cli, agent, tmp_path, authority)
    doc = json.loads(path.read_text())
    for step in doc["plan"]["steps"]:
        if step["tool"] == "payments.refund":
            step["tool"] = "crm.update_field"
    write_plan(UndoPlan.model_validate(doc["plan"]), path)
    assert "payments.refund" not in {s.tool for s in read_plan(path).steps}
    res = cli("undo", "approve", str(path), "--as", "erin", *_root(authority))
    _one_line(res, 1, "approver 'erin' has no undo grant for tool:payments.refund")
    assert _approvals(agent.conn) == 0


def test_self_declared_role_does_nothing(
    cli: Any, agent: Agent, authority: Authority, tmp_path: Path
) -> None:
    """dave has no role in the registry; `--role finance_lead` is ignored with a warning, the
    approval records the registry's roles (none), and the refund step still needs a
    finance-oncall approver at apply."""
    path = _plan(cli, agent, tmp_path, authority)
    res = cli(
        "undo", "approve", str(path), "--as", "dave", "--role", "finance_lead",
        "--role", "finance-oncall", *_root(authority), "--json",
    )
    assert res.exit_code == 0, res.stderr
    assert "warning: --role is ignored; roles come from the registry in force" in res.stderr
    assert json.loads(res.stdout)["roles"] == []
    row = agent.conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'undo.plan.approved'"
    ).fetchone()
    assert row is not None and json.loads(bytes(row[0]))["data"]["approver"] == {
        "id": "dave", "roles": []
    }
    res = cli(
        "undo", "apply", str(path), "--smtp", _smtp(agent), "--as", "ivan", *_root(authority),
        "--json",
    )
    steps = {s["step_id"]: s for s in json.loads(res.stdout)["steps"]}
    refund = [s for s in steps.values() if "finance-oncall" in (s["error"] or "")]
    assert len(refund) == 1 and refund[0]["status"] == "needs_operator"
    assert agent.conn.execute("SELECT status FROM crm_refunds").fetchone() == ("succeeded",)


def test_no_trust_root_or_no_registry_refuses_in_one_line(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    """Undo changes the world: "unknown" is a refusal, for approve and for apply."""
    path = _plan(cli, agent, tmp_path)  # no registry published yet
    create_approver_key(ledger_settings, "carol")
    env = {"LEDGER_TRUST_ROOT": ""}
    res = cli("undo", "approve", str(path), "--as", "carol", env=env)
    _one_line(res, 1, "cannot approve undo: no trust root given")
    res = cli("undo", "approve", str(path), "--as", "carol", *_root(authority))
    _one_line(res, 1, "cannot approve undo: no signed principal registry in force")
    res = cli("undo", "apply", str(path), "--smtp", _smtp(agent), "--as", "ivan", env=env)
    _one_line(res, 1, "cannot apply undo: no trust root given")
    assert _approvals(agent.conn) == 0


def test_signature_by_a_key_other_than_the_registered_one_is_refused(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    """carol's key file is swapped for another key: approve refuses; and an approval event
    signed by that other key, planted through the write door, does not count at apply."""
    path = _plan(cli, agent, tmp_path, authority)
    plan = read_plan(path)
    keyfile = approver_key_path(ledger_settings, "carol")
    keyfile.unlink()
    keyfile.with_name("carol.key.pub").unlink(missing_ok=True)
    other = create_approver_key(ledger_settings, "carol")
    res = cli("undo", "approve", str(path), "--as", "carol", *_root(authority))
    _one_line(res, 1, "is not the approver key registered for them")
    assert _approvals(agent.conn) == 0
    # the attacker writes the event itself, claiming the registry in force
    from ledger.authority.service import load_history
    from replay.undo.record import record_event

    digest = load_history(agent.conn, ledger_settings.origin(), authority.root).latest().digest
    signer = load_approver_signer(ledger_settings, "carol")
    message = approval_message(ledger_settings.origin(), plan.digest, "carol", digest or "")
    record_event(
        agent.conn, ledger_settings, "undo.plan.approved",
        {
            "plan_digest": plan.digest, "status": "approved",
            "approver": {"id": "carol", "roles": ["finance-oncall"]},
            "details": {
                "signature": base64.b64encode(signer.sign(message)).decode(),
                "vkey": other.vkey, "registry_hash": digest,
            },
        },
        "carol",
    )
    res = cli("undo", "apply", str(path), "--smtp", _smtp(agent), "--as", "ivan", *_root(authority))
    line = _one_line(res, 1, "has no valid approval")
    assert "signature does not verify against the registered approver key" in line


def test_sole_approver_may_not_apply(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    path = _plan(cli, agent, tmp_path, authority)
    before = crm_snapshot(agent.conn)
    key = approver_key_path(ledger_settings, "carol")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    res = cli("undo", "approve", str(path), "--as", "carol", *_root(authority))
    assert res.exit_code == 0, res.stderr
    for me in ("carol", " Carol"):
        res = cli("undo", "apply", str(path), "--smtp", _smtp(agent), "--as", me, *_root(authority))
        _one_line(res, 1, "four eyes")
    assert crm_snapshot(agent.conn) == before
    steps = agent.conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type LIKE 'undo.step.%'"
    ).fetchone()
    assert steps == (0,)


def test_second_person_approves_and_a_third_applies(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    before = crm_snapshot(agent.conn)
    res = cli("keys", "approver", "carol", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["created"] is True
    again = cli("keys", "approver", "carol", "--json")  # kept, never replaced
    assert json.loads(again.stdout) == {**json.loads(res.stdout), "created": False}
    path = _plan(cli, agent, tmp_path, authority)  # registers the key `keys approver` made
    res = cli("undo", "approve", str(path), "--as", "carol", *_root(authority), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["plan_digest"] == read_plan(path).digest
    approved = json.loads(res.stdout)
    assert approved["roles"] == ["finance-oncall"]  # from the registry
    row = agent.conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'undo.plan.approved'"
    ).fetchone()
    assert row is not None
    details = json.loads(bytes(row[0]))["data"]["details"]
    assert details["registry_hash"] == approved["registry_hash"]
    assert details["registry_version"] == 1
    res = cli(
        "undo", "apply", str(path), "--smtp", _smtp(agent), "--as", "ivan", "--json",
        env={"LEDGER_TRUST_ROOT": str(authority.root_file)},
    )
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


def test_a_role_granted_after_the_approval_does_not_count(
    cli: Any, agent: Agent, authority: Authority, ledger_settings: Settings, tmp_path: Path
) -> None:
    """dave approves with no role; v2 of the registry makes him finance-oncall; apply judges
    his approval by v1 (in force at its seq), so the refund still waits for an operator."""
    path = _plan(cli, agent, tmp_path, authority)
    res = cli("undo", "approve", str(path), "--as", "dave", *_root(authority))
    assert res.exit_code == 0, res.stderr
    registry_v2 = [
        authority.person("dave", "finance-oncall"), authority.person("ivan", "sre", key=False)
    ]
    authority.publish(2, principals=registry_v2, undo=[{"roles": ["finance-oncall"]}])
    res = cli(
        "undo", "apply", str(path), "--smtp", _smtp(agent), "--as", "ivan", *_root(authority),
        "--json",
    )
    steps = json.loads(res.stdout)["steps"]
    assert [s["status"] for s in steps if "finance-oncall" in (s["error"] or "")] == [
        "needs_operator"
    ]
