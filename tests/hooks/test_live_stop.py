"""The kill switch, agent side: a stop recorded elsewhere halts a live agent before the next body.

Real PostgreSQL; the busy agent is a real subprocess (tests/liveagent.py: one decorated tool call
every ~50 ms, each body writes a marker file), the stop comes from another process through the
operator's door.
Conditions are waited on with deadlines; nothing sleeps except those polling loops.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.stops import lift_stop, request_stop
from ledger.store.sequencer import try_sequence
from tests.liveagent import Started, busy_agents, halted, wait_until

from .conftest import stored as _stored


def cli_stop(cli: Any, settings: Settings, *args: str) -> float:
    """The real `ledger stop` / `ledger resume` (another process); time.time() when it exited."""
    with connect(settings) as conn:
        try_sequence(conn, settings)  # the target run is in the log (`ledger serve` does this)
    res = cli(*args, "--reason", "refunds look wrong", "--as", "ops@example")
    assert res.exit_code == 0, res.stderr
    return time.time()


def record_stop(settings: Settings, target: str, reason: str = "halt",
                lift: bool = False, tenant: str | None = None) -> float:
    """Record a stop (or its lift) through the one stop service `ledger stop` / `ledger resume`
    use (operator's connection, sequenced before it returns); time.time() when it returned."""
    with connect(settings) as conn:
        try_sequence(conn, settings)  # the target run is in the log (`ledger serve` does this)
        if lift:
            lift_stop(conn, settings, target=target, reason=reason, lifted_by="ops@example",
                      tenant=tenant)
        else:
            request_stop(conn, settings, target=target, reason=reason,
                         requested_by="ops@example", tenant=tenant)
    return time.time()


def stored(conn: psycopg.Connection, run_id: Any) -> list[Any]:
    """The run's events once whatever is in intake is sequenced (the agent does not sequence:
    `ledger serve` would)."""
    try_sequence(conn, _SETTINGS[0])
    return _stored(conn, run_id)


_SETTINGS: list[Settings] = []


@pytest.fixture(autouse=True)
def _sequencing(ledger_settings: Settings) -> Iterator[None]:
    _SETTINGS[:] = [ledger_settings]
    yield
    _SETTINGS.clear()


@pytest.fixture
def agent(ledger_settings: Settings, tmp_path: Path) -> Iterator[Callable[[str], Started]]:
    yield from busy_agents(ledger_settings, tmp_path)


def _halted(proc: subprocess.Popen[str], marks: Path, stopped_at: float,
            conn: psycopg.Connection, run_id: uuid.UUID, target: str) -> None:
    halted(proc, marks, stopped_at, conn, _SETTINGS[0], run_id, target)


def test_stop_from_another_process_halts_the_busy_agent_before_the_next_body(
        ledger_settings: Settings, ledger_conn: psycopg.Connection, agent: Any,
        cli: Any) -> None:
    proc, run_id, marks = agent()
    stopped_at = cli_stop(cli, ledger_settings, "stop", str(run_id))
    _halted(proc, marks, stopped_at, ledger_conn, run_id, f"run:{run_id}")


def test_scope_stop_halts_a_running_run_refuses_new_ones_until_resume(
        ledger_settings: Settings, ledger_conn: psycopg.Connection, agent: Any,
        cli: Any) -> None:
    proc, run_id, marks = agent("1.0")
    stopped_at = cli_stop(cli, ledger_settings, "stop", "--agent", "looper@1.0")
    _halted(proc, marks, stopped_at, ledger_conn, run_id, "agent:looper@1.0")

    hooks.configure(ledger_settings)
    try:
        refused = ledger.run(agent="looper", agent_version="1.0")
        with pytest.raises(ledger.RunStopped) as caught, refused:
            raise AssertionError("a run in a stopped scope must not start")
        assert caught.value.where == "run start"
        with ledger.run(agent="looper", agent_version="2.0"):  # another version is not stopped
            pass
        cli_stop(cli, ledger_settings, "resume", "--agent", "looper@1.0")
        wait_until(lambda: hooks.get_writer().live.find(refused) is None, what="the lift")
        with ledger.run(agent="looper", agent_version="1.0") as again:
            pass
        hooks.flush()
    finally:
        hooks.shutdown()
    events = stored(ledger_conn, refused.run_id)
    assert [e.type for e in events] == ["run.started", "run.ended"]
    assert events[-1].data.status == "stopped"
    assert events[-1].data.stopped_by.target == "agent:looper@1.0"
    assert stored(ledger_conn, again.run_id)[-1].data.status == "succeeded"


def test_llm_call_in_a_stopped_run_raises_before_it_is_recorded(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    writer = hooks.configure(ledger_settings)
    try:
        with pytest.raises(ledger.RunStopped), ledger.run(agent="chatty", model="gpt-x") as run:
            run.llm_call(model="gpt-x", request="hi", response="hello")
            record_stop(ledger_settings, "model:gpt-*")
            wait_until(lambda: writer.live.find(run) is not None, what="the stop in the cache")
            run.llm_started(model="gpt-x", request="again")
        hooks.flush()
    finally:
        hooks.shutdown()
    types = [e.type for e in stored(ledger_conn, run.run_id)]
    assert types.count("llm.call.started") == 1
    assert types[-1] == "run.ended"
    assert stored(ledger_conn, run.run_id)[-1].data.status == "stopped"


def test_a_lost_notification_still_halts_within_the_poll_interval(
        ledger_settings: Settings, ledger_conn: psycopg.Connection,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_LIVE_POLL", "0.3")
    writer = hooks.configure(ledger_settings)
    try:
        with pytest.raises(ledger.RunStopped), ledger.run(agent="reader") as run:
            live = writer.live
            pid = wait_until(lambda: live.listener_pid, what="the listener")
            ledger_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            record_stop(ledger_settings, "agent:reader")  # NOTIFY fires with nobody listening
            t0 = time.monotonic()
            wait_until(lambda: live.find(run) is not None, timeout=5, what="the poll")
            assert time.monotonic() - t0 < 0.3 + 1.0
            run.check_live(where="read-only step")
    finally:
        hooks.shutdown()


def test_a_stop_in_another_tenant_does_not_touch_this_one(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    writer = hooks.configure(ledger_settings)
    try:
        other = ledger_settings.origin("acme")
        with ledger.run(agent="looper", tenant="globex") as run:
            record_stop(ledger_settings, "agent:looper", tenant="acme")
            wait_until(lambda: writer.live.version > 0, what="the notification")
            writer.live.refresh(ledger_conn)
            assert run.writer.live.find(run) is None and other != ledger_settings.origin("globex")
            run.llm_call(model="m", request="still running")
        hooks.flush()
    finally:
        hooks.shutdown()
    assert stored(ledger_conn, run.run_id)[-1].data.status == "succeeded"


def test_async_tools_and_tool_started_wait_are_refused_after_the_ack(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    ran: list[int] = []

    @ledger.tool(name="pay")
    async def pay(i: int) -> int:
        ran.append(i)
        return i

    hooks.configure(ledger_settings)
    try:
        with ledger.run(agent="payer") as run:
            assert asyncio.run(pay(1)) == 1
            record_stop(ledger_settings, "tool:pa*")  # the tool, not the run
            with pytest.raises(ledger.RunStopped) as caught:  # the ack carries the new version
                asyncio.run(pay(2))
            assert caught.value.stop.target == "tool:pa*" and ran == [1]
            call = run.tool_started("pay", {"i": 3}, wait=True)
            assert call.ack is not None
            with pytest.raises(ledger.RunStopped):
                call.ack.result(10)
            other = run.tool_started("read", {"q": 1}, wait=True)  # other tools still run
            assert other.ack is not None and other.ack.result(10).durable
            run.tool_ended(other, result=["ok"])
        hooks.flush()
    finally:
        hooks.shutdown()
    events = stored(ledger_conn, run.run_id)
    ended = [e.data.status for e in events if e.type == "tool.call.ended"]
    assert ended == ["ok", "refused", "refused", "ok"]
    assert events[-1].data.status == "succeeded"  # a tool stop the agent handled ends nothing


def test_a_forged_notification_payload_stops_nothing(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    # Anyone who can connect may NOTIFY ledger_live; the payload is never trusted, only a cue
    # to read the tenant-scoped read API.
    writer = hooks.configure(ledger_settings)
    try:
        with ledger.run(agent="victim") as run:
            live = writer.live
            wait_until(lambda: live.listener_pid, what="the listener")
            seen = live.refreshes
            ledger_conn.execute("SELECT pg_notify('ledger_live', '999999999')")
            wait_until(lambda: live.refreshes > seen, what="the refresh the forgery caused")
            assert live.version == 0 and live.find(run) is None
            run.llm_call(model="m", request="still fine")
        hooks.flush()
    finally:
        hooks.shutdown()
    assert stored(ledger_conn, run.run_id)[-1].data.status == "succeeded"


def test_an_agent_on_a_confined_writer_role_obeys_only_its_tenants_stops(
        ledger_settings: Settings, ledger_conn: psycopg.Connection, cli: Any) -> None:
    role = f"w_a_{uuid.uuid4().hex[:8]}"
    res = cli("db", "writer", "add", role, "--tenant", "a", "--password-env", "W_PW",
              env={"W_PW": "pw-a"})
    assert res.exit_code == 0, res.stderr
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-a")
    record_stop(ledger_settings, "agent:looper", tenant="b")  # tenant b's: invisible to a
    writer = hooks.configure(Settings(home=ledger_settings.home, dsn=dsn))
    ran: list[int] = []

    @ledger.tool(name="refund")
    def refund(i: int) -> int:
        ran.append(i)
        return i

    try:
        with pytest.raises(ledger.RunStopped), ledger.run(agent="looper", tenant="a") as run:
            refund(1)
            assert {r.origin for r in writer.live.rows()} <= {ledger_settings.origin("a")}
            record_stop(ledger_settings, "agent:looper", tenant="a")
            refund(2)
        hooks.flush()
    finally:
        hooks.shutdown()
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert ran == [1]
    assert stored(ledger_conn, run.run_id)[-1].data.stopped_by.target == "agent:looper"

