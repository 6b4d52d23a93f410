"""The live stop state (issue 16, migration 0016): kept by the sequencer, read through the API.

A stop and a lift recorded by the owner become ledger_stops rows with rising versions and one
NOTIFY each whose payload is only the version; a LOGIN writer bound to tenant a reads a's stops
through ledger_stops_since and never b's, cannot touch the tables, and its own run.stop.lifted
is refused by the sequencer and changes nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.events import EventBase
from ledger.store.append import submit
from ledger.store.door import single_event
from ledger.store.roles import add_writer
from ledger.store.sequencer import try_sequence
from ledger.store.stops import live_version, stops_since
from tests.ledgerkit import append, chained_run

A, B = "agent-ledger.local/a", "agent-ledger.local/b"


def _stop(target: str, tenant: str, by: str = "alice") -> EventBase:
    return single_event("run.stop.requested", {"requested_by": by, "reason": "refund storm",
                                               "target": target, "authority": "asserted"},
                        tenant=tenant)


def _lift(target: str, tenant: str, lifts: list[uuid.UUID]) -> EventBase:
    return single_event("run.stop.lifted", {"lifted_by": "alice", "target": target,
                                            "lifts": lifts, "authority": "asserted"},
                        tenant=tenant)


def _notified(listener: psycopg.Connection) -> list[str]:
    """Payloads of ledger_live notifications that arrived, waiting up to 5 s for the first."""
    deadline = time.monotonic() + 5
    got: list[str] = []
    while not got and time.monotonic() < deadline:
        got = [n.payload for n in listener.notifies(timeout=0.2, stop_after=1)]
    got += [n.payload for n in listener.notifies(timeout=0.05)]
    return got


@pytest.fixture
def writer_a(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> Iterator[tuple[str, psycopg.Connection]]:
    role = f"w_live_{uuid.uuid4().hex[:8]}"
    add_writer(ledger_conn, role, "a", None, "pw-a")
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-a")
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield role, conn
    finally:
        conn.close()
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_stop_then_lift_rows_versions_and_notify(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    listener = psycopg.connect(ledger_settings.dsn or "", autocommit=True)
    try:
        listener.execute("LISTEN ledger_live")
        assert live_version(ledger_conn) == 0
        stop = _stop("agent:support@1.2", "a")
        append(ledger_conn, ledger_settings, [stop])
        v1 = live_version(ledger_conn)
        assert v1 > 0
        assert _notified(listener) == [str(v1)]
        now, rows = stops_since(ledger_conn, [A], 0)
        assert now == v1
        assert [(r.target, r.stop_event_id, r.requested_by, r.lifted, r.version) for r in rows] \
            == [("agent:support@1.2", stop.event_id, "alice", False, v1)]
        lift = _lift("agent:support@1.2", "a", [stop.event_id])
        append(ledger_conn, ledger_settings, [lift])
        v2 = live_version(ledger_conn)
        assert v2 > v1
        assert _notified(listener) == [str(v2)]
        now, rows = stops_since(ledger_conn, [A], v1)
        assert now == v2
        assert [(r.stop_event_id, r.lifted, r.version) for r in rows] == [(stop.event_id, True, v2)]
        assert stops_since(ledger_conn, [A], 0) == (v2, [])  # a fresh cache: nothing active
        assert ledger_conn.execute(
            "SELECT lifted_event_id, lifted_by FROM ledger_stops WHERE stop_event_id = %s",
            (stop.event_id,),
        ).fetchone() == (lift.event_id, "alice")
        # a batch without stops, lifts or policies changes nothing and notifies nothing
        append(ledger_conn, ledger_settings, chained_run(1, tenant="a"))
        assert live_version(ledger_conn) == v2
        assert list(listener.notifies(timeout=0.1)) == []
    finally:
        listener.close()


def test_an_old_stop_without_target_stops_the_run_it_points_into(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    run = chained_run(1, tenant="a")
    append(ledger_conn, ledger_settings, run)
    old = single_event("run.stop.requested", {"requested_by": "bob"}, tenant="a",
                       correlation={"caused_by": run[1].event_id})
    dangling = single_event("run.stop.requested", {"requested_by": "bob"}, tenant="a",
                            correlation={"caused_by": uuid.uuid4()})
    append(ledger_conn, ledger_settings, [old, dangling])
    _, rows = stops_since(ledger_conn, None, 0)
    assert {(r.stop_event_id, r.target, r.target_run_id, r.authority) for r in rows} == {
        (old.event_id, f"run:{run[0].run_id}", run[0].run_id, "asserted"),
        (dangling.event_id, "run:?", None, "asserted"),
    }


def test_writer_sees_its_tenants_stops_only_and_cannot_touch_or_lift(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    writer_a: tuple[str, psycopg.Connection],
) -> None:
    role, w = writer_a
    stop_a, stop_b = _stop("tenant:a", "a"), _stop("tenant:b", "b")
    append(ledger_conn, ledger_settings, [stop_a, stop_b])
    version = live_version(ledger_conn)
    assert live_version(w) == version
    for origins in (None, [A, B], [B]):
        _, rows = stops_since(w, origins, 0)
        assert [r.stop_event_id for r in rows] == ([] if origins == [B] else [stop_a.event_id])
    assert {r.stop_event_id for r in stops_since(ledger_conn, None, 0)[1]} == {
        stop_a.event_id, stop_b.event_id}
    for statement in (
        "SELECT * FROM ledger_stops",
        "SELECT * FROM ledger_live_changes",
        "UPDATE ledger_stops SET lifted_by = 'mallory'",
        "DELETE FROM ledger_stops",
        "INSERT INTO ledger_live_changes (origin, kind, event_id, seq) "
        "VALUES ('agent-ledger.local/a', 'lift', gen_random_uuid(), 0)",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            w.execute(statement)  # type: ignore[call-overload]
    lift = _lift("tenant:a", "a", [stop_a.event_id])
    submit(w, [lift], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert ledger_conn.execute(
        "SELECT reason FROM ledger_rejects WHERE event_id = %s", (lift.event_id,)
    ).fetchone() == (
        f"control-plane event run.stop.lifted from writer role {role!r} refused: only "
        "ledger_operator roles may write it (no registry-authorised signature)",
    )
    assert live_version(ledger_conn) == version
    assert [r.stop_event_id for r in stops_since(w, None, 0)[1]] == [stop_a.event_id]


def test_policy_publications_are_live_changes_read_per_tenant(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    writer_a: tuple[str, psycopg.Connection],
) -> None:
    _, w = writer_a
    docs = {t: {"name": f"pack-{t}", "mode": "enforce"} for t in ("a", "b")}
    events = {
        t: single_event("policy.published", {"policy_hash": t * 64, "name": f"pack-{t}",
                                             "version": "1", "document": docs[t]}, tenant=t)
        for t in ("a", "b")
    }
    append(ledger_conn, ledger_settings, [events["a"], events["b"]])
    statement = "SELECT origin, event_id, policy_hash, document FROM ledger_policies_since(%s, 0)"
    assert ledger_conn.execute(statement, (None,)).fetchall() == [
        (A, events["a"].event_id, "a" * 64, docs["a"]),
        (B, events["b"].event_id, "b" * 64, docs["b"]),
    ]
    assert w.execute(statement, (None,)).fetchall() == [
        (A, events["a"].event_id, "a" * 64, docs["a"])
    ]
    assert w.execute(statement, ([B],)).fetchall() == []
    version = live_version(ledger_conn)
    assert ledger_conn.execute(
        "SELECT count(*) FROM ledger_policies_since(NULL, %s)", (version,)
    ).fetchone() == (0,)


def test_only_the_sequencer_role_may_write_the_live_tables(ledger_conn: psycopg.Connection) -> None:
    rows = ledger_conn.execute(
        "SELECT r, t, p, has_table_privilege(r, t, p) FROM unnest(ARRAY['ledger_writer', "
        "'ledger_reader', 'ledger_operator', 'ledger_sequencer']) AS r, "
        "unnest(ARRAY['ledger_stops', 'ledger_live_changes']) AS t, "
        "unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p"
    ).fetchall()
    allowed = {(r, t, p) for r, t, p, ok in rows if ok}
    assert allowed == {
        ("ledger_sequencer", t, p)
        for t in ("ledger_stops", "ledger_live_changes") for p in ("SELECT", "INSERT", "UPDATE")
    }
