"""Append path: API and ingest round trips, idempotency, 8 concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import uuid

import psycopg

from ledger.config import Settings
from ledger.events import encode_event, leaf_hash, make_event, to_json
from ledger.store.append import submit
from ledger.store.read import run_events
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger
from tests.ledgerkit import append, chained_run


def test_round_trip_through_the_python_api(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    events = chained_run(3)
    assert append(ledger_conn, ledger_settings, events) == len(events)
    stored = run_events(ledger_conn, events[0].run_id)
    assert [s.body for s in stored] == [encode_event(e) for e in events]
    assert [s.event for s in stored] == events
    assert [s.leaf_hash for s in stored] == [leaf_hash(encode_event(e)) for e in events]
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_round_trip_through_ingest(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: object
) -> None:
    events = chained_run(2)
    lines = "\n".join(json.dumps(to_json(e)) for e in events).encode() + b"\n"
    result = cli("ingest", "-", input=lines)  # type: ignore[operator]
    assert result.exit_code == 0, result.stderr
    stored = run_events(ledger_conn, events[0].run_id)
    assert [s.body for s in stored] == [encode_event(e) for e in events]
    assert cli("verify").exit_code == 0  # type: ignore[operator]


def test_ingest_fills_in_the_chain(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: object
) -> None:
    run_id = str(uuid.uuid4())
    lines = [
        {"type": "run.started", "run_id": run_id, "data": {"task": "from another language"}},
        {"type": "custom", "run_id": run_id, "data": {"name": "step", "attributes": {"n": 1}}},
        {"type": "run.ended", "run_id": run_id, "data": {"status": "succeeded", "event_count": 3}},
    ]
    payload = "\n".join(json.dumps(line) for line in lines).encode()
    assert cli("ingest", "-", input=payload).exit_code == 0  # type: ignore[operator]
    stored = run_events(ledger_conn, uuid.UUID(run_id))
    assert [s.event.run_seq for s in stored] == [0, 1, 2]
    assert stored[1].event.prev_run_hash == stored[0].leaf_hash.hex()
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_submitting_the_same_event_twice_stores_it_once(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    events = chained_run(1)
    first = submit(ledger_conn, events, ledger_settings)
    again = submit(ledger_conn, events, ledger_settings)  # retry before sequencing
    assert [r.duplicate for r in first] == [False] * len(events)
    assert [r.duplicate for r in again] == [True] * len(events)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    late = submit(ledger_conn, events, ledger_settings)  # retry after sequencing
    assert all(r.duplicate for r in late)
    assert try_sequence(ledger_conn, ledger_settings, wait=True) == 0
    count = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    assert count == (len(events),)


def test_conflicting_chain_is_rejected_not_stored(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    events = chained_run(1)
    append(ledger_conn, ledger_settings, events)
    fork = make_event(
        "custom", run_id=events[0].run_id, run_seq=1, prev_run_hash="0" * 64, data={"name": "fork"}
    )
    submit(ledger_conn, [fork], ledger_settings)
    assert try_sequence(ledger_conn, ledger_settings, wait=True) == 0
    reason = ledger_conn.execute("SELECT reason FROM ledger_rejects").fetchone()
    assert reason is not None and "already has run_seq 1" in reason[0]
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def _writer(settings: Settings, worker: int, runs: int, tools: int) -> int:
    from ledger.db.connect import connect

    conn = connect(settings)
    written = 0
    batches = [chained_run(tools, agent={"name": f"w{worker}-{r}"}) for r in range(runs)]
    # Interleave: one event of each run per round, so runs from all writers mix in the log.
    for round_ in range(max(len(b) for b in batches)):
        wave = [b[round_] for b in batches if round_ < len(b)]
        submit(conn, wave, settings)
        written += len(wave)
        try_sequence(conn, settings)
    conn.close()
    return written


def test_eight_concurrent_writer_processes(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        written = sum(pool.starmap(_writer, [(ledger_settings, w, 4, 5) for w in range(8)]))
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert written == 8 * 4 * 12
    seqs = [r[0] for r in ledger_conn.execute("SELECT seq FROM ledger_events ORDER BY seq")]
    assert seqs == list(range(written))  # no gaps, no duplicates
    per_run = ledger_conn.execute(
        "SELECT count(*), min(run_seq), max(run_seq) FROM ledger_events GROUP BY run_id"
    ).fetchall()
    assert len(per_run) == 32 and all(r == (12, 0, 11) for r in per_run)
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.events_verified) == ("ok", written)
