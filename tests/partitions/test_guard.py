"""Global uniqueness across partitions is the guard table: an event_id another log holds is
rejected with a reason, never stored twice, and the batch (and the log) goes on."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import make_event
from ledger.store.append import submit
from ledger.store.sequencer import try_sequence
from tests.ledgerkit import append, chained_run
from tests.partitions.partkit import figures, writer

pytestmark = pytest.mark.xdist_group("partitions")


def _rejects(conn: psycopg.Connection, event_id: object) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT origin, reason FROM ledger_rejects WHERE event_id = %s",
                        (event_id,)).fetchall()
    return [(str(o), str(r)) for o, r in rows]


def test_same_event_id_in_two_tenants_is_rejected_with_a_reason(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    from ledger.partitions import add_tenant

    add_tenant(ledger_conn, ledger_settings, "acme", own=True, range_size=4)
    first = chained_run(1, tenant="acme")
    append(ledger_conn, ledger_settings, first)
    twin = make_event("custom", event_id=first[0].event_id, run_id=uuid.uuid4(), run_seq=0,
                      tenant="globex", data={"name": "twin"})
    good = chained_run(1, tenant="globex")
    with writer(ledger_conn, ledger_settings, "globex") as globex, \
            psycopg.connect(globex.dsn or "", autocommit=True) as conn:
        submit(conn, [twin, *good], globex)  # globex's writer cannot see acme's log
    assert try_sequence(ledger_conn, ledger_settings, wait=True) == len(good)
    assert _rejects(ledger_conn, twin.event_id) == [
        (ledger_settings.origin("globex"), "event_id is already stored in another log")]
    assert ledger_conn.execute("SELECT origin FROM ledger_events WHERE event_id = %s",
                               (twin.event_id,)).fetchall() == [(ledger_settings.origin("acme"),)]
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)
    figures(ledger_conn, ledger_settings)


def test_a_key_the_guard_holds_is_refused_per_row_in_the_copy(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """The guard's unique violation (another origin's concurrent batch took the key) goes the
    unstorable-row way: that row to ledger_rejects with PostgreSQL's reason, the rest stored."""
    taken = chained_run(1, tenant="acme")
    ledger_conn.execute(  # as a concurrent batch of another origin would have, just committed
        "INSERT INTO ledger_event_keys (event_id, run_id, run_seq, origin) "
        "VALUES (gen_random_uuid(), %s, 0, 'agent-ledger.local/other')", (taken[0].run_id,))
    good = chained_run(1, tenant="acme")
    assert append(ledger_conn, ledger_settings, [taken[0], *good]) == len(good)
    [(origin, reason)] = _rejects(ledger_conn, taken[0].event_id)
    assert origin == ledger_settings.origin("acme")
    assert reason.startswith("PostgreSQL cannot store this event: duplicate key value violates "
                             'unique constraint "ledger_event_keys_run"')
    later = chained_run(1, tenant="acme")
    assert append(ledger_conn, ledger_settings, later) == len(later)  # the log goes on
    report = figures(ledger_conn, ledger_settings)
    assert report["origins"][ledger_settings.origin("acme")] == len(good) + len(later)
    assert ledger_conn.execute("SELECT count(*) FROM ledger_event_keys WHERE origin = %s",
                               (ledger_settings.origin("acme"),)).fetchone() == (len(good) * 2,)
