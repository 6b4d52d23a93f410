"""The TUI never offers the initiator or an original actor as an approver by another spelling."""

from __future__ import annotations

from tui.inspect import RunTrace


def test_excluded_principals_compare_normalised() -> None:
    trace = RunTrace(
        run_id="r", origin="o", initiated_by="alice@example.com", roles=(), agent="a",
        versions={}, events=1, chain_ok=True, chain_note="", proof="", status="ok",
        tool_calls=[], may_stop=[], first_event_id="e",
        people=[("Alice@Example.com", ("finance_lead",)), ("carol", ("finance_lead",)),
                ("Dave", ("ops",))],
    )
    assert trace.eligible_approvers(("finance_lead",), ("alice@example.com", "DAVE")) == ["carol"]
    assert trace.eligible_approvers((), (" ALICE@example.com",)) == ["Dave", "carol"]
