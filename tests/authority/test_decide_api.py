"""`ledger.decide(signer=...)` and `decide_signed` with edits: the same claim, verifiable.

From a live `ledger.run`, a signed decision lands in the requesting run and verifies against the
registered approver key over a claim rebuilt from the record. Someone else's key is refused
before anything is recorded, and the approval stays pending.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import ledger
from ledger.approver_keys import create_approver_key, load_approver_signer
from ledger.authority.approvals import ApprovalClaim, SignedApproval, verify_approval
from ledger.authority.decide import DecisionRefused, decide_signed
from ledger.authority.service import load_history, publish_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.events import ApprovalDecidedData, args_hash
from ledger.hooks import configure, shutdown
from ledger.note import Signer
from ledger.store.read import event_by_id, run_events
from tests.authority.conftest import signed

ALICE = "alice@acme.test"
ARGS = {"to": "acct-7", "amount": "250.00"}


@pytest.fixture
def alice(ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
          root: TrustRoot) -> Signer:
    """Alice's approver key, registered in a published registry; returns her signer."""
    key = create_approver_key(ledger_settings, ALICE)
    principals = [{"id": ALICE, "roles": ["finance_lead"], "approver_key": key.vkey}]
    publish_registry(ledger_conn, ledger_settings, signed(admin, principals=principals), root)
    return load_approver_signer(ledger_settings, ALICE)


@pytest.fixture
def hooks_writer(ledger_settings: Settings, root_file: Any,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(root_file))
    configure(ledger_settings, sequence=True, sequence_interval=0.0)
    yield
    shutdown()


def _claim_ok(conn: psycopg.Connection, root: TrustRoot, origin: str, run_id: Any,
              data: ApprovalDecidedData, tool: str, approved_hash: str) -> str | None:
    now = load_history(conn, origin, root).latest()
    assert now.registry is not None and now.digest == data.registry_hash
    claim = ApprovalClaim(origin, run_id, data.tool_call_id, tool, approved_hash, data.decision,
                          data.expires_at, data.approver.id, now.digest)
    assert data.signing_key is not None and data.signature is not None
    return verify_approval(claim, SignedApproval(data.signing_key, data.signature),
                           now.registry.approver_verifier(data.approver.id))


def test_decide_with_signer_in_a_live_run_records_a_verifiable_decision(
    hooks_writer: None, ledger_conn: psycopg.Connection, ledger_settings: Settings,
    root: TrustRoot, alice: Signer,
) -> None:
    with ledger.run(agent="pay", user="bob@acme.test") as run:
        approval = run.request_approval("payments.refund", ARGS, required_roles=["finance_lead"])
        ledger.decide(approval, approver="ALICE@acme.test", roles=["ceo"], signer=alice,
                      expires_at="2030-01-01T00:00:00.000000000Z")
    assert run.writer.flush()
    events = [s.event for s in run_events(ledger_conn, run.run_id)]
    dec = next(e for e in events if e.type == "approval.decided")
    data = dec.data
    assert isinstance(data, ApprovalDecidedData)
    assert data.approver.id == ALICE and data.approver.roles == ()  # the registry's, not "ceo"
    assert data.call_run_id == run.run_id and data.tool == "payments.refund"
    origin = ledger_settings.origin()
    assert _claim_ok(ledger_conn, root, origin, run.run_id, data, "payments.refund",
                     args_hash(ARGS)) is None


def test_decide_with_someone_elses_key_is_refused_and_stays_pending(
    hooks_writer: None, ledger_conn: psycopg.Connection, alice: Signer,
) -> None:
    mallory = Signer.generate(ALICE)  # the right name, not the registered key
    with ledger.run(agent="pay") as run:
        approval = run.request_approval("payments.refund", ARGS)
        with pytest.raises(DecisionRefused, match="not the registered approver key"):
            ledger.decide(approval.approval_id, approver=ALICE, signer=mallory)
        ledger.decide(approval.approval_id, approver=ALICE, decision="reject", signer=alice)
    assert run.writer.flush()
    types = [s.event.type for s in run_events(ledger_conn, run.run_id)]
    assert types.count("approval.decided") == 1


def test_decide_signed_edit_signs_the_edited_args_hash(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, root: TrustRoot, alice: Signer,
    hooks_writer: None,
) -> None:
    with ledger.run(agent="pay") as run:
        approval = run.request_approval("payments.refund", ARGS)
    assert run.writer.flush()
    edited = {**ARGS, "amount": "200.00"}
    done = decide_signed(ledger_conn, ledger_settings, approval_id=approval.approval_id,
                         approver=ALICE, decision="approved", signer=alice, root=root,
                         edited_args=edited, reason="cap at 200")
    stored = event_by_id(ledger_conn, done.event_id)
    assert stored is not None
    data = stored.event.data
    assert isinstance(data, ApprovalDecidedData)
    assert data.decision == "edited" and data.edited_args_hash == args_hash(edited)
    assert data.args_hash == args_hash(ARGS)  # the request's, recomputed from its args
    origin = ledger_settings.origin()
    assert _claim_ok(ledger_conn, root, origin, run.run_id, data, "payments.refund",
                     args_hash(edited)) is None
    assert _claim_ok(ledger_conn, root, origin, run.run_id, data, "payments.refund",
                     args_hash(ARGS)) == (
        "approval signature does not match the call, args, decision or approver")
