"""The one write door: append submits durably, sequences on request, and is idempotent."""

from __future__ import annotations

from ledger.events import decode_event
from ledger.store.door import append, single_event
from ledger.store.read import run_events


def test_append_sequences_a_single_event_run_once(ledger_conn, ledger_settings) -> None:
    event = single_event(
        "annotation", {"text": "checked by on-call"}, principal={"initiating_user": "a"}
    )
    first = append(ledger_conn, [event], ledger_settings)
    assert first.sequenced == 1
    assert first.event_ids == [event.event_id]
    assert not first.receipts[0].duplicate
    again = append(ledger_conn, [event], ledger_settings)
    assert again.receipts[0].duplicate
    assert again.sequenced == 0
    stored = run_events(ledger_conn, event.run_id)
    assert [decode_event(e.body).event_id for e in stored] == [event.event_id]
    assert decode_event(stored[0].body).run_seq == 0


def test_append_without_sequencing_leaves_it_in_intake(ledger_conn, ledger_settings) -> None:
    event = single_event("annotation", {"text": "later"})
    result = append(ledger_conn, [event], ledger_settings, sequence=False)
    assert result.sequenced == 0
    assert run_events(ledger_conn, event.run_id) == []
    assert append(ledger_conn, [], ledger_settings).sequenced == 1
