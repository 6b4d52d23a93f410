"""Leadership per origin against a hostile writer, beside key operations (issue 20 item 2).

A writer role (a real LOGIN role made by `ledger db writer add`) must neither take a lease nor
hold one to stop a log: every way to lock or write the lease rows is refused, and sequencing
goes on while its transaction stays open. A rotation waits for a batch in flight (the batch
shares ledger_sequencer_state's row, the rotation locks it exclusively)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.keyops import RotationResult, rotate_log_key
from ledger.store.leases import lease_for_batch
from ledger.store.sequencer import try_sequence
from tests.ledgerkit import append, chained_run

from .conftest import fill, pending, until

REFUSED = [
    "SELECT * FROM ledger_sequencer_leases FOR UPDATE",
    "SELECT * FROM ledger_sequencer_leases FOR KEY SHARE",
    "UPDATE ledger_sequencer_leases SET holder = 'w', expires_at = 'infinity'",
    "INSERT INTO ledger_sequencer_leases (origin, holder, expires_at) "
    "VALUES ('agent-ledger.local/a', 'w', 'infinity')",
    "DELETE FROM ledger_sequencer_leases",
    "INSERT INTO ledger_sequencer_holders (holder) VALUES ('w')",
    "SELECT 1 FROM ledger_sequencer_state FOR UPDATE",
    "SELECT 1 FROM ledger_sequencer_state FOR KEY SHARE",
]


@pytest.fixture
def writer(ledger_conn: psycopg.Connection, ledger_settings: Settings,
           cli: object) -> Iterator[psycopg.Connection]:
    append(ledger_conn, ledger_settings, chained_run(1, tenant="a"))  # a's lease row exists
    role = f"w_a_{uuid.uuid4().hex[:8]}"
    res = cli("db", "writer", "add", role, "--tenant", "a",  # type: ignore[operator]
              "--password-env", "W_PW", env={"W_PW": "pw-a"})
    assert res.exit_code == 0, res.stderr
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-a")
    conn = psycopg.connect(dsn)  # not autocommit: a refused statement leaves its transaction open
    try:
        yield conn
    finally:
        conn.close()
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_writer_cannot_take_or_block_a_lease(
    writer: psycopg.Connection, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    for statement in REFUSED:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            writer.execute(statement)
        assert str(refused.value).startswith("permission denied for table ledger_sequencer_")
        writer.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # and it keeps that transaction
        writer.execute(REFUSED[0])  # open (aborted, holding nothing): sequencing goes on
    submitted = fill(ledger_conn, ledger_settings, ["a"], runs=2)
    assert try_sequence(ledger_conn, ledger_settings) == submitted
    assert pending(ledger_conn) == 0


def test_a_rotation_waits_for_the_batch_in_flight(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1, tenant="a"))
    fill(ledger_conn, ledger_settings, ["a"], runs=1)
    batch = connect(ledger_settings)
    rotator = connect(ledger_settings)
    pid = rotator.info.backend_pid
    done: list[RotationResult] = []
    try:
        with batch.transaction():
            assert lease_for_batch(batch, ledger_settings, None, wait=False) == [
                ledger_settings.origin("a")]  # a batch in flight: a's lease row locked
            thread = threading.Thread(
                target=lambda: done.append(rotate_log_key(rotator, ledger_settings)))
            thread.start()
            until("the rotation waits on a lock", lambda: ledger_conn.execute(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
                (pid,)).fetchone() == (True,))
            assert not done
        thread.join(timeout=60)
        assert len(done) == 1
        assert pending(ledger_conn) == 0  # the rotation drained a's intake with the old key
    finally:
        batch.close()
        rotator.close()
