"""Hostile review of issue 16, reviewer r16b: approvals a decision cites (other args, unsigned,
garbage signatures, edits) never license a held call.
"""

from __future__ import annotations

import textwrap
from typing import Any

import psycopg

import ledger.hooks as hooks
from ledger.hooks.writer import Writer
from replay.policy import load_pack_text
from replay.policy.precall import (
    ApprovalGrant,
    LiveBasis,
)
from tests.policy.test_enforcement import Step, decided, judged
from tests.policy.test_review16b_attacks import judged_by
from tests.replay.conftest_db import record, spec, tool


def _approve(args: dict[str, Any], call_id: str, grant: dict[str, str]) -> Step:
    def step(run: hooks.Run) -> None:
        approval = run.request_approval({"name": "refund", "args": args, "id": call_id})
        grant["id"] = approval.approval_id
        grant["event"] = str(hooks.decide(approval.approval_id, approver="bob",
                                          roles=["finance_lead"]))

    return step


def test_an_approval_for_other_args_cannot_be_cited_for_this_call(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """bob approved refund c3 of $150; the host cites that approval to allow refund c3 of
    $90,000. `_cited` never compares the approval's args hash with the call's."""
    small, big = {"amount_usd": 150}, {"amount_usd": 90000}
    grant: dict[str, str] = {}

    def again(run: hooks.Run) -> None:
        cited = ApprovalGrant(grant["id"], grant["event"], "bob")
        decided("refund", big, "c3", basis=LiveBasis(approval=cited))(run)

    rid = record(spec(_approve(small, "c3", grant), again, tool("refund", big, call_id="c3")))
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why


SIGNED = load_pack_text(textwrap.dedent("""
    mode: enforce
    policies: {require_approval_for: [{action: refund, any: true, require_signed: true}]}
"""), "signed.yaml")


def test_a_hold_needing_a_signed_approval_is_not_released_by_an_unsigned_one(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """The pack requires signed approvals. Honest decision: require_approval. The host then
    records an unsigned approval.decided itself and runs the body: `_approved_before` accepts
    any approved decision with the args hash, signed or not."""
    args = {"amount_usd": 5}
    rid = record(spec(decided("refund", args, "c3", pack=SIGNED),
                      _approve(args, "c3", {}), tool("refund", args, call_id="c3")))
    outcome, why = judged_by(ledger_conn, rid, SIGNED)
    assert outcome == "fail", why


def test_a_garbage_signature_does_not_make_an_approval_signed(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """The host writes approval.decided with signature 'AAAA' and cites it as signed."""
    args = {"amount_usd": 5}
    box: dict[str, str] = {}

    def forge(run: hooks.Run) -> None:
        approval = run.request_approval({"name": "refund", "args": args, "id": "c3"})
        box["id"] = approval.approval_id
        ref = run.record("approval.decided", {
            "approval_id": approval.approval_id, "tool_call_id": "c3",
            "args_hash": approval.args_hash, "decision": "approved",
            "approver": {"id": "bob", "roles": ["finance_lead"]}, "signature": "AAAA",
            "signing_key": "ed25519:AAAA", "tool": "refund"})
        box["event"] = str(ref.event_id)

    def cite(run: hooks.Run) -> None:
        grant = ApprovalGrant(box["id"], box["event"], "bob", ("finance_lead",), True)
        decided("refund", args, "c3", pack=SIGNED, basis=LiveBasis(approval=grant))(run)

    rid = record(spec(forge, cite, tool("refund", args, call_id="c3")))
    outcome, why = judged_by(ledger_conn, rid, SIGNED)
    assert outcome == "fail", why


def test_an_edited_approval_does_not_release_the_original_args(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """refund of $500 held; bob *edits* it down to $50. The host runs the original $500.
    `_approved_before` accepts `want in (decided_args_hash, edited_args_hash)`: for an edit the
    original args hash is exactly what the approver refused."""
    args, edited = {"amount_usd": 500}, {"amount_usd": 50}

    def edit(run: hooks.Run) -> None:
        approval = run.request_approval({"name": "refund", "args": args, "id": "c3"})
        hooks.decide(approval.approval_id, approver="bob", roles=["finance_lead"],
                     decision="edited", edited_args=edited)

    rid = record(spec(decided("refund", args, "c3"), edit, tool("refund", args, call_id="c3")))
    outcome, why = judged(ledger_conn, rid)[:2]
    assert outcome == "fail", why
