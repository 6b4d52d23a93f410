"""Approvals bound to tool_call_id + args_hash, with approver identity and roles."""

from __future__ import annotations

import pytest

import ledger.hooks as hooks
from ledger.events import args_hash
from ledger.hooks.writer import Writer

from .conftest import stored


@hooks.tool(name="payments.transfer")
def transfer(to: str, amount: str) -> str:
    return f"sent {amount} to {to}"


def test_request_decide_and_execute_share_the_call(writer: Writer, ledger_conn):
    with hooks.run(agent="pay", user="alice", roles=["clerk"]) as run:
        approval = run.request_approval({"name": "payments.transfer",
                                         "args": {"to": "bob", "amount": "900"}},
                                        reason="over 500", required_roles=["finance_lead"],
                                        amount_usd="900")
        hooks.decide(approval.approval_id, approver="carol", roles=["finance_lead"],
                     decision="approve", reason="invoice checked")
        transfer("bob", amount="900")
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    req, dec, start = events[1], events[2], events[3]
    assert req.type == "approval.requested" and dec.type == "approval.decided"
    assert req.data.args_hash == args_hash({"to": "bob", "amount": "900"})
    assert dec.data.tool_call_id == req.data.tool_call_id == start.data.tool_call_id
    assert dec.data.args_hash == req.data.args_hash == start.data.args_hash
    assert dec.data.approver.id == "carol" and dec.data.approver.roles == ("finance_lead",)
    assert dec.correlation.caused_by == req.event_id
    assert dec.principal.initiating_user == "alice"  # the run's principal, not the approver


def test_edited_args_are_hashed_and_bind(writer: Writer, ledger_conn):
    with hooks.run(agent="pay") as run:
        approval = run.request_approval("payments.transfer", {"to": "bob", "amount": "900"})
        hooks.decide(approval, approver="carol", decision="approved",
                     edited_args={"to": "bob", "amount": "500"})
        transfer("bob", amount="500")
        run.request_approval("payments.transfer", {"to": "eve", "amount": "1"})
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    dec, start = events[2], events[3]
    assert dec.data.decision == "edited"
    assert dec.data.edited_args_hash == args_hash({"to": "bob", "amount": "500"})
    assert start.data.tool_call_id == dec.data.tool_call_id


def test_decision_from_elsewhere_is_a_bound_single_event_run(writer: Writer, ledger_conn):
    event_id = hooks.decide("appr-remote", approver="dave", roles=["ops"], decision="reject",
                            tool_call_id="call-9", args_hash="0" * 64)
    writer.flush()
    row = ledger_conn.execute("SELECT run_id FROM ledger_events WHERE event_id = %s",
                              (event_id,)).fetchone()
    (dec,) = stored(ledger_conn, row[0])
    assert dec.data.decision == "rejected" and dec.run_seq == 0
    assert dec.principal.initiating_user == "dave"
    with pytest.raises(ValueError, match="not pending"):
        hooks.decide("unknown", approver="x")
    with pytest.raises(ValueError, match="decision"):
        hooks.decide("unknown", approver="x", decision="maybe", tool_call_id="c",
                     args_hash="0" * 64)
