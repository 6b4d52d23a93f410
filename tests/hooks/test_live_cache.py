"""The stop cache's own guarantees (review r16a, untested flaws; real PostgreSQL, no mocks).

- a call that requires the database refuses when an ack showed the cache is behind and the
  refresh failed (fail closed, never a run on a cache known to be stale);
- the listener's and the short reads' connections carry TCP keepalives and a statement timeout;
- run stops are indexed by run id, lifted stops are not kept;
- the OpenAI Agents formatter's noted stops do not outlive their run.
"""

from __future__ import annotations

import dataclasses
import gc
import uuid

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

import ledger
import ledger.hooks as hooks
from ledger.config import Settings, Timeouts
from ledger.db.connect import connect
from ledger.hooks.encoding import Ack
from ledger.hooks.errors import LedgerUnavailable, RunStopped, StopInfo
from ledger.hooks.live import LiveCache
from ledger.hooks.tools import ToolCall, _stop_gate

from .test_live_stop import record_stop


def test_a_failed_refresh_after_a_newer_ack_fails_closed(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    writer = hooks.configure(ledger_settings)
    try:
        with ledger.run(agent="stale") as run:
            live = writer.live
            before = live.version
            newer = before + 1000  # an ack showed stops this cache has not read
            broken = connect(ledger_settings)
            broken.close()  # the refresh the ack triggers fails
            live.note_version(newer, broken)
            assert live.version < newer and live.stale(newer)
            call = ToolCall(str(uuid.uuid4()), "refund", 0)
            needs_db = _stop_gate(run, call, require_db=True)(Ack(uuid.uuid4(), True, newer))
            assert isinstance(needs_db, LedgerUnavailable)
            assert "could not be read" in str(needs_db)
            assert _stop_gate(run, call)(Ack(uuid.uuid4(), True, newer)) is None  # fail open
            assert _stop_gate(run, call, require_db=True)(
                Ack(uuid.uuid4(), True, live.version)) is None  # an ack at the cache's version
    finally:
        hooks.shutdown()


def test_live_connections_have_keepalives_and_a_statement_timeout(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    settings = dataclasses.replace(ledger_settings, timeouts=Timeouts(statement=5))
    cache = LiveCache(settings, poll=0.5)
    with cache._listener_conn() as conn:
        params = conninfo_to_dict(conn.info.dsn)
        assert str(params["keepalives"]) == "1"
        assert int(str(params["tcp_user_timeout"])) > 0
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
    with cache._open() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("2s",)


def test_run_stops_are_indexed_and_lifted_stops_not_kept(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    hooks.configure(ledger_settings)
    try:
        with ledger.run(agent="indexed") as run:
            pass
        hooks.flush()  # the run is in the log: a run stop names an existing run
        record_stop(ledger_settings, f"run:{run.run_id}")
        record_stop(ledger_settings, "agent:gone")
        record_stop(ledger_settings, "agent:gone", lift=True)
        cache = LiveCache(ledger_settings, poll=0.5)
        cache._load_now(ledger_settings.origin("default"))
        assert set(cache._by_run) == {run.run_id}
        assert all(row.target != "agent:gone" for row in cache._scoped.values())
        stop = cache.find(run)
        assert stop is not None and stop.target == f"run:{run.run_id}"
        cache.close()
    finally:
        hooks.shutdown()


def test_openai_agents_noted_stops_do_not_outlive_their_run(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    pytest.importorskip("agents")
    from ledger.integrations import openai_agents

    hooks.configure(ledger_settings)
    try:
        info = StopInfo(target="agent:x", requested_by="ops", reason="halt")
        with ledger.run(agent="noted") as run:
            run_id = run.run_id
            try:
                raise RunStopped(run_id, info, "tool")
            except RunStopped as exc:
                openai_agents._note_stop(exc)
            kept = openai_agents._stops[run_id]
            assert kept.__traceback__ is None and kept.stop is info
        del run, kept
        gc.collect()
        assert run_id not in openai_agents._stops
    finally:
        hooks.shutdown()
