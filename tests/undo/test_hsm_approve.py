"""An undo approval signed with a key in a PKCS#11 token (SoftHSM2), through the real `ledger`.

The approval recorded is the token key's signature over the plan digest; it verifies with the
approver's public key (read from the token at set-up, not from the ledger); the URI is never
written into the ledger; a wrong PIN is one line, exit 4, and nothing is recorded. No approver
key file is ever created on the way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from ledger.approver_keys import approver_key_path
from ledger.config import Settings
from ledger.errors import ExitCode
from ledger.note import Verifier
from ledger.store import undo as undo_store
from replay.undo.approvals import approval_message, approvals_for
from replay.undo.model import read_plan
from tests.hsmkit import PIN, TOKEN, SoftHsm, needs_softhsm
from tests.registrykit import Authority
from tests.undo.conftest import Agent

pytestmark = needs_softhsm


def _plan(
    cli: Any, agent: Agent, tmp_path: Path, authority: Authority, softhsm: SoftHsm
) -> Path:
    """The plan, and a registry naming carol's and dave's token keys (public halves only)."""
    people = [
        {"id": name, "roles": ["finance-oncall"],
         "approver_key": Verifier.from_public_key(name, softhsm.public_key(name)).vkey}
        for name in ("carol", "dave")
    ]
    authority.publish(1, principals=people, undo=[{"roles": ["finance-oncall"]}])
    run_id = agent.script(user="alice", approver="bob")
    path = tmp_path / "plan.json"
    res = cli("undo", "plan", str(run_id), "--out", str(path), "--as", "ivan")
    assert res.exit_code == 0, res.stderr
    return path


def _undo_events(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'undo.plan.approved'"
    ).fetchall()
    return [bytes(r[0]).decode("utf-8") for r in rows]


def test_approval_signed_in_the_token_is_recorded_and_verifies(
    cli: Any, agent: Agent, ledger_settings: Settings, softhsm: SoftHsm, tmp_path: Path,
    authority: Authority,
) -> None:
    path = _plan(cli, agent, tmp_path, authority, softhsm)
    plan = read_plan(path)
    uri = softhsm.uri("carol")
    env = {"LEDGER_PKCS11_PIN": PIN, "LEDGER_TRUST_ROOT": str(authority.root_file)}
    res = cli("undo", "approve", str(path), "--as", "carol", "--key", uri, "--json", env=env)
    assert res.exit_code == 0, res.stderr
    carol = Verifier.from_public_key("carol", softhsm.public_key("carol"))
    (row,) = undo_store.approvals(agent.conn, plan.digest)
    assert (row.approver, row.vkey) == ("carol", carol.vkey)
    (body,) = _undo_events(agent.conn)
    registry = json.loads(body)["data"]["details"]["registry_hash"]
    message = approval_message(ledger_settings.origin(), plan.digest, "carol", registry)
    assert carol.verify(message, row.signature)
    judged = approvals_for(agent.conn, ledger_settings, plan, authority.root)
    assert [a.approver for a in judged.valid] == ["carol"]
    assert carol.vkey in body
    assert "pkcs11" not in body and TOKEN not in body  # the URI is the signer's config only
    assert not approver_key_path(ledger_settings, "carol").exists()  # no key file made
    # LEDGER_APPROVER_KEY does the same for a second approver (the TUI's way in)
    dave_env = {**env, "LEDGER_APPROVER_KEY": softhsm.uri("dave")}
    res = cli("undo", "approve", str(path), "--as", "dave", env=dave_env)
    assert res.exit_code == 0, res.stderr
    dave = Verifier.from_public_key("dave", softhsm.public_key("dave"))
    vkeys = {r.approver: r.vkey for r in undo_store.approvals(agent.conn, plan.digest)}
    assert vkeys == {"carol": carol.vkey, "dave": dave.vkey}


def test_wrong_pin_is_one_line_and_records_nothing(
    cli: Any, agent: Agent, ledger_settings: Settings, softhsm: SoftHsm, tmp_path: Path,
    authority: Authority,
) -> None:
    path = _plan(cli, agent, tmp_path, authority, softhsm)
    uri = softhsm.uri("carol")
    root = {"LEDGER_TRUST_ROOT": str(authority.root_file)}
    res = cli("undo", "approve", str(path), "--as", "carol", "--key", f"{uri}?pin-value=9999",
              env=root)
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == f"error: wrong PIN for PKCS#11 token {TOKEN!r}"
    assert "9999" not in res.stderr
    nobody = {
        "LEDGER_APPROVER_KEY": f"pkcs11:token={TOKEN};object=nobody",
        "LEDGER_PKCS11_PIN": PIN,
        **root,
    }
    res = cli("undo", "approve", str(path), "--as", "carol", env=nobody)
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == (
        f"error: no Ed25519 key pair labelled 'nobody' in PKCS#11 token {TOKEN!r}"
    )
    assert _undo_events(agent.conn) == []
    assert undo_store.approvals(agent.conn, read_plan(path).digest) == []
    assert not approver_key_path(ledger_settings, "carol").exists()
