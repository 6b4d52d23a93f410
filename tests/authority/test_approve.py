"""`ledger approve`: a signed decision that verifies against the registry, or a one-line refusal.

The claim is rebuilt here independently (from the recorded request and the registry in force),
the way replay does, and checked with `verify_approval` against the registered key. Each way an
approval must not be signed (unknown approver, approver without key, someone else's key, no
trust root) exits non-zero with one line and leaves the log exactly as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.approver_keys import create_approver_key
from ledger.authority.approvals import ApprovalClaim, SignedApproval, verify_approval
from ledger.authority.service import load_history, publish_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.events import ApprovalDecidedData, args_hash
from ledger.keys import load_or_create_signer
from ledger.note import Signer
from ledger.store.door import append, single_event
from ledger.store.read import event_by_id
from tests.authority.conftest import signed
from tests.ledgerkit import without_body_rules

Cli = Callable[..., Any]
ALICE = "alice@acme.test"
BOB = "bob@acme.test"
ARGS = {"to": "acct-7", "amount": "250.00"}


def _count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def world(ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
          root: TrustRoot) -> dict[str, Any]:
    """Alice (finance_lead, key registered), Bob (key made, registered without it), a request."""
    alice = create_approver_key(ledger_settings, ALICE)
    create_approver_key(ledger_settings, BOB)
    principals = [{"id": ALICE, "roles": ["finance_lead"], "approver_key": alice.vkey},
                  {"id": BOB, "roles": ["finance_lead"]}]
    publish_registry(ledger_conn, ledger_settings, signed(admin, principals=principals), root)
    request = single_event("approval.requested", {
        "approval_id": "appr-1", "tool_call_id": "call-1", "tool": "payments.refund",
        "args_hash": args_hash(ARGS), "args": ARGS, "required_roles": ["finance_lead"]})
    append(ledger_conn, [request], ledger_settings)
    return {"request": request, "alice": alice}


def _env(root_file: Path) -> dict[str, str]:
    return {"LEDGER_TRUST_ROOT": str(root_file)}


def _recorded(conn: psycopg.Connection, event_id: str) -> ApprovalDecidedData:
    stored = event_by_id(conn, uuid.UUID(event_id))
    assert stored is not None
    data = stored.event.data
    assert isinstance(data, ApprovalDecidedData)
    return data


def _verify(conn: psycopg.Connection, settings: Settings, root: TrustRoot,
            data: ApprovalDecidedData, request: Any, approved_hash: str) -> str | None:
    """Rebuild the claim from the record (not from the event's own hashes) and verify it."""
    origin = settings.origin()
    in_force = load_history(conn, origin, root).latest()
    assert in_force.registry is not None and in_force.digest == data.registry_hash
    claim = ApprovalClaim(origin, request.run_id, request.data.tool_call_id, request.data.tool,
                          approved_hash, data.decision, data.expires_at, data.approver.id,
                          in_force.digest)
    assert data.signing_key is not None and data.signature is not None
    return verify_approval(claim, SignedApproval(data.signing_key, data.signature),
                           in_force.registry.approver_verifier(data.approver.id))


def test_cli_approve_records_a_signature_the_registry_key_verifies(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, root: TrustRoot,
    root_file: Path, world: dict[str, Any],
) -> None:
    key = str(world["alice"].path)  # --key: the approver id itself compares normalised
    res = cli("approve", "appr-1", "--as", "Alice@ACME.test", "--key", key, "--expires", "15m",
              "--reason", "invoice checked", "--json", env=_env(root_file))
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    data = _recorded(ledger_conn, out["event_id"])
    request = world["request"]
    assert data.decision == "approved" and data.approver.id == ALICE
    assert data.approver.roles == ()  # roles are the registry's, never the event's
    assert data.call_run_id == request.run_id and data.tool == "payments.refund"
    assert data.args_hash == args_hash(ARGS) and data.expires_at is not None
    assert _verify(ledger_conn, ledger_settings, root, data, request, args_hash(ARGS)) is None
    # the same signature does not cover other args (a $9,999 refund)
    other = args_hash({**ARGS, "amount": "9999.00"})
    assert _verify(ledger_conn, ledger_settings, root, data, request, other) == (
        "approval signature does not match the call, args, decision or approver")


def test_cli_reject_is_signed_too(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, root: TrustRoot,
    root_file: Path, world: dict[str, Any],
) -> None:
    res = cli("approve", "appr-1", "--as", ALICE, "--reject", "--json", env=_env(root_file))
    assert res.exit_code == 0, res.stderr
    data = _recorded(ledger_conn, json.loads(res.stdout)["event_id"])
    assert data.decision == "rejected" and data.expires_at is None
    assert _verify(ledger_conn, ledger_settings, root, data, world["request"],
                   args_hash(ARGS)) is None


@pytest.mark.parametrize(
    ("who", "extra", "message"),
    [
        ("carol@acme.test", (), "approver 'carol@acme.test' is not in the registry in force"),
        (BOB, (), "approver 'bob@acme.test' has no approver key in the registry in force"),
        (ALICE, ("--key", "BOB"), "key is for name 'bob@acme.test', expected 'alice@acme.test'"),
        (ALICE, ("--key", "FORGED"), "is not the registered approver key of 'alice@acme.test'"),
        (ALICE, ("--trust-root", ""), "cannot sign an approval: no trust root given"),
    ],
    ids=["unknown-approver", "no-approver-key", "someone-elses-key", "own-key-for-alice",
         "no-trust-root"],
)
def test_cli_refusals_are_one_line_and_record_nothing(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, root_file: Path,
    world: dict[str, Any], who: str, extra: tuple[str, ...], message: str, tmp_path: Path,
) -> None:
    if who == "carol@acme.test":
        create_approver_key(ledger_settings, who)  # a key, but no registry entry
    env = _env(root_file)
    if "--trust-root" in extra:
        env = {"LEDGER_TRUST_ROOT": ""}
        extra = ()
    if extra == ("--key", "BOB"):
        extra = ("--key", str(ledger_settings.keys_dir / "approvers" / f"{BOB}.key"))
    elif extra == ("--key", "FORGED"):  # a key the writer made, named like alice
        forged = load_or_create_signer(tmp_path / "forged" / f"{ALICE}.key", ALICE)
        assert forged.vkey != world["alice"].vkey
        extra = ("--key", str(tmp_path / "forged" / f"{ALICE}.key"))
    before = _count(ledger_conn)
    res = cli("approve", "appr-1", "--as", who, *extra, env=env)
    assert res.exit_code != 0
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert _count(ledger_conn) == before


def test_unknown_approval_id_and_missing_key_file_refuse(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, root_file: Path,
    world: dict[str, Any],
) -> None:
    before = _count(ledger_conn)
    res = cli("approve", "appr-404", "--as", ALICE, env=_env(root_file))
    assert res.exit_code != 0 and "no approval.requested with id 'appr-404'" in res.stderr
    res = cli("approve", "appr-1", "--as", "dave@acme.test", env=_env(root_file))
    assert res.exit_code != 0 and "create it first with `ledger keys approver" in res.stderr
    res = cli("approve", "appr-1", "--as", ALICE, "--expires", "soon", env=_env(root_file))
    assert res.exit_code != 0 and "--expires 'soon' is not a duration" in res.stderr
    assert _count(ledger_conn) == before


def test_writer_altered_or_repeated_requests_are_not_signed(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, root_file: Path,
    world: dict[str, Any],
) -> None:
    """A writer records a $250 args_hash over $9,999 args, or repeats an approval id.

    Since issue 17 the sequencer refuses the altered request (ledger/bodyrules.py), so there is
    nothing to sign; `ledger approve` must still refuse one that a log written before issue 17
    holds, from its own check of the recorded args."""
    big = {**ARGS, "amount": "9999.00"}

    def altered() -> Any:
        return single_event("approval.requested", {
            "approval_id": "appr-forged", "tool_call_id": "call-2", "tool": "payments.refund",
            "args_hash": args_hash(ARGS), "args": big})

    forged = altered()
    again = single_event("approval.requested", {
        "approval_id": "appr-1", "tool_call_id": "call-3", "tool": "payments.refund",
        "args_hash": args_hash(ARGS), "args": ARGS})
    append(ledger_conn, [forged, again], ledger_settings)
    assert ledger_conn.execute(
        "SELECT reason FROM ledger_rejects WHERE event_id = %s", (forged.event_id,)
    ).fetchall() == [(f"args_hash {args_hash(ARGS)[:16]}... does not match the args "
                      f"(their hash is {args_hash(big)})",)]
    assert event_by_id(ledger_conn, forged.event_id) is None
    assert event_by_id(ledger_conn, again.event_id) is not None
    before = _count(ledger_conn)
    res = cli("approve", "appr-forged", "--as", ALICE, env=_env(root_file))
    assert res.exit_code != 0, res.stderr
    assert res.stderr.splitlines() == [
        "refused: no approval.requested with id 'appr-forged' in agent-ledger.local/default"]
    assert _count(ledger_conn) == before
    with without_body_rules():
        append(ledger_conn, [altered()], ledger_settings)
    before = _count(ledger_conn)
    res = cli("approve", "appr-forged", "--as", ALICE, env=_env(root_file))
    assert res.exit_code != 0 and "refusing to sign" in res.stderr, res.stderr
    assert "its recorded args hash to" in res.stderr
    res = cli("approve", "appr-1", "--as", ALICE, env=_env(root_file))
    assert res.exit_code != 0
    assert "approval id 'appr-1' is requested more than once" in res.stderr, res.stderr
    assert _count(ledger_conn) == before
