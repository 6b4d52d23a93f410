"""Review r17a: the sequencer's args_hash rule skipped args that merely *contained* the bytes
`[secret:` or `"$truncated`, so a hostile writer put such text in its args on purpose to show
args X under the hash of args Y (an approval of Y read as one of X). Now only the markers the
hooks themselves produce (a well-formed scrubbed-secret commitment, a truncation / private
payload object) exempt the args, and those are exactly the args `ledger check` and approvals
treat as not fully recorded (undecidable, never a pass)."""

from __future__ import annotations

import pytest

from ledger.authority.judge import not_fully_recorded
from ledger.db.sqlfiles import query
from ledger.events import args_hash
from ledger.store.sequencer import try_sequence
from tests.pg import test_strict_bodies as sb
from tests.pg import test_writer_confinement as wc

confined = wc.confined
MARKER = "[secret:jwt sha256:" + "a" * 64 + "]"
FAKE_MARKERS = {
    "bare-prefix": {"amount": 5, "memo": "[secret:"},
    "prefix-in-key": {"amount": 5, "[secret:x": 1},
    "malformed-marker": {"amount": 5, "memo": "[secret:jwt sha256:zz]"},
    "truncated-as-text": {"amount": 5, "memo": "$truncated"},
    "truncated-key-prefix": {"amount": 5, "$truncated_note": True},
}


@pytest.mark.parametrize("fake", sorted(FAKE_MARKERS))
def test_a_marker_put_in_args_on_purpose_does_not_skip_the_hash_check(
    fake: str, confined: wc.Confined
) -> None:
    args = FAKE_MARKERS[fake]
    assert not not_fully_recorded(args)  # check would recompute the hash: no marker the hooks make
    event_id, run_id, body = sb._event("tool.call.started", sb._started(args, {"amount": 500}))
    origin = confined.settings.origin(sb.TENANT)
    confined.writer.execute(query("submit_events"), ([event_id], [origin], [run_id], [1],
                                                     [body]))
    try_sequence(confined.owner, confined.settings, wait=True)
    rows = confined.owner.execute("SELECT event_id, reason FROM ledger_rejects").fetchall()
    assert rows == [(event_id, f"args_hash {sb.LIAR[:16]}... does not match the args "
                               f"(their hash is {args_hash(args)})")]


def test_a_well_formed_scrub_marker_is_exempt_and_is_undecidable_for_check(
    confined: wc.Confined
) -> None:
    args = {"amount": 5, "token": MARKER}
    assert not_fully_recorded(args)  # approvals / check: the binding cannot be recomputed
    event_id, run_id, body = sb._event("tool.call.started", sb._started(args, {"amount": 500}))
    origin = confined.settings.origin(sb.TENANT)
    confined.writer.execute(query("submit_events"), ([event_id], [origin], [run_id], [1],
                                                     [body]))
    try_sequence(confined.owner, confined.settings, wait=True)
    reasons = [r for (i, r) in confined.owner.execute(
        "SELECT event_id, reason FROM ledger_rejects").fetchall() if i == event_id]
    assert not any("args_hash" in r for r in reasons)


def test_private_args_committed_by_submit_private_are_not_rejected(
    ledger_conn, ledger_settings  # type: ignore[no-untyped-def]
) -> None:
    """A sensitive args field replaced by a `$commitment` (ledger.privacy) keeps the hash of the
    real args: not inline, so not checked (and undecidable for check), never rejected."""
    import uuid

    from ledger.events import make_event
    from ledger.privacy import submit_private

    args = {"amount": 5, "card": "4111 1111 1111 1111"}
    event = make_event("tool.call.started", run_id=uuid.uuid4(), run_seq=0,
                       data=sb._started(args, args))
    submit_private(ledger_conn, [event], ledger_settings, ["/data/args/card"], "cust-1")
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert ledger_conn.execute("SELECT reason FROM ledger_rejects").fetchall() == []
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events WHERE event_id = %s",
                               (event.event_id,)).fetchone() == (1,)
