"""Operator records (ledger.operator): annotations and stops are sequenced single-event runs
linked to what they are about, written through the one write door."""

from __future__ import annotations

import uuid

import psycopg

from ledger.config import Settings
from ledger.events import decode_event
from ledger.operator import record_annotation, record_stop
from ledger.store.read import run_events


def test_record_annotation_links_its_target(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    target, run = uuid.uuid4(), uuid.uuid4()
    done = record_annotation(
        ledger_conn,
        ledger_settings,
        tenant="default",
        author="dana",
        kind="tag",
        text="ioc phishing",
        target_event_id=target,
        target_run_id=run,
        tags=["ioc", "phishing"],
        via="cli",
    )
    stored = run_events(ledger_conn, done.run_id)
    assert len(stored) == 1
    event = decode_event(stored[0].body)
    assert (event.event_id, event.type, event.run_seq) == (done.event_id, "annotation", 0)
    assert event.correlation.caused_by == target
    assert event.principal.initiating_user == "dana"
    assert event.source.integration == "cli"
    assert event.data.tags == ("ioc", "phishing") and event.data.target_run_id == run


def test_record_stop_names_who_and_why(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    target = uuid.uuid4()
    done = record_stop(
        ledger_conn,
        ledger_settings,
        tenant="default",
        requested_by="bob",
        reason="outbound mail",
        target_event_id=target,
        tool_call_id="t1",
    )
    assert done.tenant == "default"
    event = decode_event(run_events(ledger_conn, done.run_id)[0].body)
    assert event.type == "run.stop.requested"
    assert event.correlation.caused_by == target
    assert (event.data.requested_by, event.data.reason, event.data.target_tool_call_id) == (
        "bob",
        "outbound mail",
        "t1",
    )
