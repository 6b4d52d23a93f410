"""Operator records (ledger.operator): annotations and stops are sequenced single-event runs
linked to what they are about, written through the one write door."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from ledger.authority.trust import NO_TRUST_ROOT
from ledger.config import Settings
from ledger.events import decode_event
from ledger.operator import StopRefused, record_annotation, record_stop
from ledger.store.read import run_events
from tests.ledgerkit import append, chained_run
from tests.registrykit import Authority


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
    # no trust root given: still recorded (a stop never waits for configuration), but asserted
    assert event.data.authority == "asserted" and event.data.authorised is None
    assert event.data.authority_reason == NO_TRUST_ROOT


def _stops(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'run.stop.requested'"
    ).fetchone()
    return int(row[0]) if row else 0


def _run(conn: psycopg.Connection, settings: Settings) -> Any:
    """A recorded run with one tool call: what the stop is aimed at."""
    events = chained_run(n_tools=1)
    append(conn, settings, events)
    return events


def _stop_registry(auth: Authority) -> str:
    """sre may stop anything in tenant default; dana only payments tool calls; carol nothing."""
    return auth.publish(
        principals=[
            auth.person("ivan", "sre", key=False),
            auth.person("dana", key=False),
            auth.person("carol", key=False),
        ],
        stop=[
            {"roles": ["sre"], "scopes": ["tenant:default"]},
            {"principals": ["dana"], "scopes": ["tool:payments.*"]},
        ],
    )


def test_stop_by_a_principal_the_registry_does_not_allow_is_refused_and_not_recorded(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, authority: Authority
) -> None:
    _stop_registry(authority)
    started = _run(ledger_conn, ledger_settings)[0]
    before = _stops(ledger_conn)
    for who, tool in (("carol", None), ("mallory", None), ("dana", None), ("dana", "email.send")):
        with pytest.raises(StopRefused, match=f"^{who} may not stop run:{started.run_id}"):
            record_stop(
                ledger_conn, ledger_settings, tenant="default", requested_by=who,
                reason="I say so", target_event_id=started.event_id, tool=tool,
                root=authority.root,
            )
    assert _stops(ledger_conn) == before


def test_granted_stop_records_the_registry_that_authorised_it(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, authority: Authority
) -> None:
    digest = _stop_registry(authority)
    started = _run(ledger_conn, ledger_settings)[0]
    for who, tool, scope in (
        ("Ivan", None, "tenant:default"),  # ids compare normalised
        ("dana", "payments.refund", "tool:payments.refund"),
    ):
        done = record_stop(
            ledger_conn, ledger_settings, tenant="default", requested_by=who, reason="fraud",
            target_event_id=started.event_id, tool_call_id="t1", tool=tool, root=authority.root,
        )
        data = decode_event(run_events(ledger_conn, done.run_id)[0].body).data
        assert done.authority == "registry"
        assert (data.authority, data.authorised, data.registry_hash, data.scope) == (
            "registry", True, digest, scope,
        )


def test_stop_without_a_registry_is_recorded_as_asserted(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, authority: Authority
) -> None:
    """A trust root but nothing published yet (a fresh ledger at 3 a.m.): recorded, asserted."""
    started = _run(ledger_conn, ledger_settings)[0]
    done = record_stop(
        ledger_conn, ledger_settings, tenant="default", requested_by="anyone", reason="smoke",
        target_event_id=started.event_id, root=authority.root,
    )
    data = decode_event(run_events(ledger_conn, done.run_id)[0].body).data
    assert (data.authority, data.authorised, data.registry_hash) == ("asserted", None, None)
    assert data.authority_reason is not None
    assert data.authority_reason.startswith("no signed principal registry in force")
