"""Fixes of review r16b (slice fixc): the pieces the reviewer's tests do not reach."""

from __future__ import annotations

import textwrap
import uuid

import pytest
from pydantic import ValidationError

from ledger.canonical import content_hash
from ledger.events import Cost, DecisionBasis
from ledger.hooks.guard import ProposedCall
from replay.policy import load_pack_text
from replay.policy.guard import PolicyGuard
from replay.policy.precall import ApprovalGrant, LiveBasis, Proposed, compile_precall, decide


def test_a_decision_basis_never_states_a_negative_cost() -> None:
    """A recorded LLM cost stays the writer's word (a negative one decodes, and replay counts it
    as unknown: test_review16b_attacks), but a decision's basis cannot claim a credit."""
    with pytest.raises(ValidationError):
        DecisionBasis(cost_usd="-1")
    assert Cost(amount_usd="-49.5", price_table_version="x").amount_usd == "-49.5"


FLOW = textwrap.dedent("""
    mode: enforce
    flows: [{id: mail, to: {tools: [send_email]}}]
""")


@pytest.mark.parametrize("grant, cleared", [
    (ApprovalGrant("a1", None, "bob"), True),
    (ApprovalGrant("a1", None, "ann"), False),  # the run's own user approving their own call
])
def test_a_flow_clears_only_with_an_independent_approval(
    grant: ApprovalGrant, cleared: bool
) -> None:
    pre = compile_precall(load_pack_text(FLOW, "flow.yaml"))
    p = Proposed("send_email", {"to": "x@example.com"}, tool_call_id="c1", user="ann")
    got = decide(pre, LiveBasis(untrusted_input=True, approval=grant), p)
    assert (got.decision == "allow") is cleared, got.hits


def test_an_enforcing_pack_this_process_cannot_load_still_fails_closed() -> None:
    document = {"mode": "enforce", "tools": {"allow": ["search"]}, "future_key": {"x": 1}}
    call = ProposedCall(uuid.uuid4(), "search", {}, tool_call_id="c1",
                        pack_hash=content_hash(document), pack_document=document, basis={})
    got = PolicyGuard().check(call)
    assert not got.allowed
    assert got.reason.startswith("policy pack cannot be used")


def test_an_unloadable_shadow_pack_records_the_load_error_as_would_be() -> None:
    document = {"mode": "shadow", "future_key": {"x": 1}}
    call = ProposedCall(uuid.uuid4(), "rm", {}, tool_call_id="c1",
                        pack_hash=content_hash(document), pack_document=document, basis={})
    got = PolicyGuard().check(call)
    assert got.allowed and got.data is not None
    assert (got.data["decision"], got.data["would_be"], got.data["mode"]) == (
        "allow", "deny", "shadow")
    assert [r["id"] for r in got.data["rules"]] == ["policy.load"]
