"""Abandoned runs (issue 17): `ledger serve` ends runs suspended longer than the limit with a
run.ended of status abandoned that continues their chain; runs resumed, or idle for less, are
left alone. Real PostgreSQL and the real serve loop; no sleeps (poll with a deadline)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import psycopg

import ledger
from ledger.config import Settings
from ledger.events import encode_event, leaf_hash
from ledger.hooks.writer import Writer
from ledger.serve import serve
from ledger.serve_abandon import abandon_after, abandon_idle
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger

from .conftest import stored


def _suspended(agent: str, key: str, writer: Writer) -> ledger.Run:
    with ledger.run(agent=agent, user="ann") as run:
        run.llm_call(model="gpt-4o", input_tokens=40, output_tokens=4)
        run.suspend("approval", resume_key=key)
    assert writer.flush()
    return run


def _suspended_at(conn: psycopg.Connection, run: ledger.Run) -> Any:
    row = conn.execute("SELECT recorded_at FROM ledger_suspended_runs WHERE run_id = %s",
                       (run.run_id,)).fetchone()
    assert row is not None
    return row[0]


def test_only_runs_idle_longer_than_the_limit_are_ended_abandoned(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    old = _suspended("old-bot", "k:old", writer)
    young = _suspended("young-bot", "k:young", writer)
    resumed = _suspended("back-bot", "k:back", writer)
    with ledger.resume(resumed.run_id):
        pass
    assert writer.flush()
    t_old, t_young = _suspended_at(ledger_conn, old), _suspended_at(ledger_conn, young)
    assert t_young > t_old
    now = t_old + timedelta(hours=1) + (t_young - t_old) / 2  # old is idle > 1h, young is not
    assert abandon_idle(ledger_conn, ledger_settings, 3600, now=now) == [old.run_id]
    try_sequence(ledger_conn, ledger_settings)
    events = stored(ledger_conn, old.run_id)
    end = events[-1]
    assert [e.type for e in events] == ["run.started", "llm.call.started", "llm.call.ended",
                                        "run.suspended", "run.ended"]
    assert end.data.status == "abandoned" and end.data.event_count == 5
    assert end.prev_run_hash == end.data.last_hash == leaf_hash(encode_event(events[-2])).hex()
    assert end.data.totals.llm_calls == 1 and end.data.totals.input_tokens == 40
    assert end.agent.name == "old-bot" and end.principal.initiating_user == "ann"
    assert end.source.integration == "serve"
    assert [e.type for e in stored(ledger_conn, young.run_id)][-1] == "run.suspended"
    assert [e.type for e in stored(ledger_conn, resumed.run_id)][-1] == "run.ended"
    assert stored(ledger_conn, resumed.run_id)[-1].data.status == "succeeded"
    assert ledger.find_suspended("k:old") is None
    assert ledger.find_suspended("k:young") == young.run_id
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_ledger_serve_abandons_with_a_small_limit(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    run = _suspended("idle-bot", "k:idle", writer)
    stop = threading.Event()
    conn = psycopg.connect(ledger_settings.dsn or "", autocommit=True)
    thread = threading.Thread(target=serve, args=(conn, ledger_settings, stop),
                              kwargs={"abandon": "0.2"}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            types = [e.type for e in stored(ledger_conn, run.run_id)]
            if types[-1] == "run.ended":
                break
            stop.wait(0.05)
        assert stored(ledger_conn, run.run_id)[-1].data.status == "abandoned"
    finally:
        stop.set()
        thread.join(30)
        conn.close()
    assert ledger.find_suspended("k:idle") is None
    try:
        ledger.resume(run.run_id)
        raise AssertionError("an abandoned run was resumed")
    except ledger.RunAlreadyEnded:
        pass


def test_the_limit_parses_seconds_and_spans_and_refuses_nonsense(cli: Any) -> None:
    assert abandon_after("90") == 90.0
    assert abandon_after("12h") == 12 * 3600
    assert abandon_after(None) == 7 * 86400
    res = cli("serve", "--abandon-after", "soon")
    assert res.exit_code == 2
    assert "--abandon-after" in res.stderr and "soon" in res.stderr
