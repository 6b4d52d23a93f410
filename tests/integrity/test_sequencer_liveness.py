"""Issue 15 item 1 from the attacker's side: a writer credential cannot stop the log.

The attacker is an agent host with a real LOGIN role in ledger_writer. It fills a whole batch
with events whose run predecessor never arrives (one INSERT ... SELECT), and it takes the advisory
locks the sequencer and `ledger serve` used to rely on. Neither stops the next good event of
another tenant from being sequenced and checkpointed, and neither makes `ledger verify` believe a
sequencer runs (migration 0013, ledger/store/liveness.py).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.events import EventBase, make_event, to_json
from ledger.store.append import submit
from ledger.store.backlog import reject_reasons
from ledger.store.sequencer import BatchResult, log_signer, sequence_batch, try_sequence
from tests.ledgerkit import chained_run


@pytest.fixture
def attacker(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> Iterator[psycopg.Connection]:
    """A connection of a real LOGIN writer role (bound to no tenant: embedded-style install)."""
    role = f"evil_w_{uuid.uuid4().hex[:8]}"
    ident = sql.Identifier(role)
    ledger_conn.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw-e' IN ROLE ledger_writer").format(ident)
    )
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-e")
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()
        ledger_conn.execute("DELETE FROM ledger_intake WHERE submitted_by = %s", (role,))
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def _orphans(attacker: psycopg.Connection, settings: Settings, n: int) -> list[uuid.UUID]:
    """n valid run.started bodies claiming run_seq 1 (run_seq 0 never comes), in ONE statement."""
    bodies = []
    for _ in range(n):
        body = to_json(make_event("run.started", run_id=uuid.uuid4(), run_seq=0, data={}))
        body["run_seq"] = 1
        bodies.append(body)
    attacker.execute(
        "INSERT INTO ledger_intake (event_id, origin, run_id, run_seq, body) "
        "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::uuid[], %s::bigint[], %s::bytea[])",
        (
            [b["event_id"] for b in bodies],
            [settings.origin("default")] * n,
            [b["run_id"] for b in bodies],
            [1] * n,
            [canonical_bytes(b) for b in bodies],
        ),
    )
    return [uuid.UUID(b["event_id"]) for b in bodies]


def _batch(conn: psycopg.Connection, settings: Settings) -> BatchResult:
    result = sequence_batch(conn, settings, log_signer(settings, conn), wait=True)
    assert result is not None
    return result


def _logged(conn: psycopg.Connection, events: list[EventBase]) -> int:
    ids = [e.event_id for e in events]
    row = conn.execute("SELECT count(*) FROM ledger_events WHERE event_id = ANY(%s)", (ids,))
    return int(row.fetchone()[0])  # type: ignore[index]


def test_a_batch_of_orphans_does_not_block_other_tenants(
    attacker: psycopg.Connection, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    settings = dataclasses.replace(ledger_settings, batch_size=100)
    _orphans(attacker, settings, 100)
    first = _batch(ledger_conn, settings)  # the whole batch is the attacker's: all held
    assert (first.sequenced, first.held, first.newly_held) == (0, 100, 100)
    good = chained_run(0, tenant="b")
    submit(ledger_conn, good, settings)
    second = _batch(ledger_conn, settings)  # fresh rows first: the victim is sequenced
    assert second.sequenced == len(good) and second.checkpoints == [
        (settings.origin("b"), len(good))
    ]
    assert _logged(ledger_conn, good) == len(good)
    held = ledger_conn.execute("SELECT count(*), count(held_at) FROM ledger_intake").fetchone()
    assert held == (100, 100)  # the orphans wait, held, at the back of the queue


def test_an_honest_out_of_order_pair_among_orphans_is_sequenced(
    attacker: psycopg.Connection, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    settings = dataclasses.replace(ledger_settings, batch_size=100)
    _orphans(attacker, settings, 100)
    assert _batch(ledger_conn, settings).newly_held == 100
    run = chained_run(0)
    submit(ledger_conn, run[1:], settings)  # run_seq 1 first: held
    assert _batch(ledger_conn, settings).newly_held == 1
    submit(ledger_conn, run[:1], settings)  # then run_seq 0
    assert try_sequence(ledger_conn, settings, wait=True) == 2
    assert _logged(ledger_conn, run) == 2


def test_an_orphan_held_past_the_bound_is_rejected_and_the_writer_learns_it(
    attacker: psycopg.Connection, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    (orphan,) = _orphans(attacker, ledger_settings, 1)
    assert _batch(ledger_conn, ledger_settings).held == 1
    ledger_conn.execute(
        "UPDATE ledger_intake SET received_at = now() - interval '61 minutes', "
        "held_at = now() - interval '1 minute'"
    )
    assert _batch(ledger_conn, ledger_settings).rejected == 1
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)
    reason = reject_reasons(attacker, [orphan])[orphan]
    assert reason.startswith("predecessor run_seq 0 never arrived (run ")
    assert reason.endswith(" held over 3600s)")


def test_a_writer_holding_the_old_locks_changes_nothing(
    attacker: psycopg.Connection,
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    cli: Any,
) -> None:
    attacker.execute("SELECT pg_advisory_lock(7162534), pg_advisory_lock_shared(7162535)")
    for forbidden in (
        "SELECT 1 FROM ledger_sequencer_state FOR UPDATE",
        "UPDATE ledger_sequencer_state SET heartbeat_at = now()",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            attacker.execute(forbidden)
    good = chained_run(0, tenant="b")
    submit(ledger_conn, good, ledger_settings)
    assert try_sequence(ledger_conn, ledger_settings, wait=False) == len(good)
    # No serve runs; acknowledged events wait two hours: verify still says STALLED.
    submit(ledger_conn, chained_run(1)[1:3], ledger_settings)
    ledger_conn.execute("UPDATE ledger_intake SET received_at = now() - interval '2 hours'")
    res = cli("verify")
    assert res.exit_code == 6, res.stdout + res.stderr
    assert re.fullmatch(
        r"intake backlog: 2 events, oldest 72\d\ds, no sequencer running \(STALLED: over 60s\)",
        res.stdout.splitlines()[1],
    )
