"""Fail closed on a database that is down or hung, within the configured timeouts (issue 17
item 7), through a real TCP proxy in front of the shared test server (tests/hooks/tcpproxy.py).

The time bounds asserted are correctness bounds (the old code waited 30 s), kept loose on
purpose: 10 s for the 5 s default, 4.5 s for LEDGER_ACK_TIMEOUT=1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.setup import ack_timeout
from ledger.hooks.writer import Writer
from ledger.verify import verify_ledger

from .conftest import stored
from .tcpproxy import TcpProxy


@pytest.fixture
def proxy(fresh_dsn: str) -> Iterator[TcpProxy]:
    p = TcpProxy(fresh_dsn)
    yield p
    p.close()


@pytest.fixture
def proxied(proxy: TcpProxy, tmp_path: Path) -> Iterator[Writer]:
    """The hooks configured as a user would, with the DSN going through the proxy."""
    settings = Settings(home=tmp_path / "home", dsn=proxy.dsn)
    yield hooks.configure(settings, sequence=True, retry_interval=0.05, sequence_interval=0.0)
    hooks.shutdown(timeout=15)


def until(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _refund_tool(ran: list[int]) -> Callable[[int], str]:
    @ledger.tool(side_effect=True)
    def refund(amount: int) -> str:
        ran.append(amount)
        return f"refunded {amount}"

    return refund


def _fails_closed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    with pytest.raises(ledger.LedgerUnavailable):
        call()
    return time.monotonic() - started


def _assert_refused_call_recorded(writer: Writer, ledger_conn: psycopg.Connection,
                                  run_id: object, amounts: list[int], cli: Any) -> None:
    """After recovery: every intent reached the ledger in chain order, the refused one with an
    error outcome, and the ledger verifies."""
    until(writer.flush, "the spool to drain into the ledger")
    events = stored(ledger_conn, run_id)
    assert [e.run_seq for e in events] == list(range(len(events)))
    starts = [e for e in events if e.type == "tool.call.started"]
    assert [e.data.args["amount"] for e in starts] == amounts
    ends = [e for e in events if e.type == "tool.call.ended"]
    assert [e.data.status for e in ends] == ["ok"] * (len(amounts) - 1) + ["error"]
    assert ends[-1].data.tool_call_id == starts[-1].data.tool_call_id
    assert events[-1].type == "run.ended"
    assert verify_ledger(ledger_conn, writer.settings).status == "ok"
    checked = cli("check", "--run", str(run_id), "--json")
    assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_hung_database_on_an_open_connection_fails_closed_and_keeps_the_intent(
        proxied: Writer, proxy: TcpProxy, ledger_conn: psycopg.Connection, cli: Any) -> None:
    ran: list[int] = []
    refund = _refund_tool(ran)
    assert ack_timeout() == 5.0
    with ledger.run(agent="shop", user="alice") as run:
        assert refund(1) == "refunded 1"  # the writer's connection is open and warm
        proxy.hang()
        elapsed = _fails_closed(lambda: refund(2))
        assert elapsed < 10, f"waited {elapsed:.1f} s for a hung database (bound: ~5 s)"
        assert ran == [1]  # the body never ran
        until(lambda: proxied.spool.status().events >= 1, "the refused intent in the spool")
        proxy.recover()
    _assert_refused_call_recorded(proxied, ledger_conn, run.run_id, [1, 2], cli)


def test_hung_database_on_a_new_connection_fails_closed(
        proxied: Writer, proxy: TcpProxy, ledger_conn: psycopg.Connection, cli: Any) -> None:
    ran: list[int] = []
    refund = _refund_tool(ran)
    proxy.hang()  # accepts TCP, never answers the startup packet
    with ledger.run(agent="shop", user="bob") as run:
        elapsed = _fails_closed(lambda: refund(3))
        assert elapsed < 10, f"waited {elapsed:.1f} s for a hung database (bound: ~5 s)"
        assert ran == []
        # the stops and packs in force could not be read at run start: the call is refused
        # at once, its attempt (intent + error outcome) kept in the spool with run.started
        until(lambda: proxied.spool.status().events >= 3, "the refused attempt in the spool")
        proxy.recover()
    _assert_refused_call_recorded(proxied, ledger_conn, run.run_id, [3], cli)


def test_down_database_fails_closed_then_delivers_the_spool(
        proxied: Writer, proxy: TcpProxy, ledger_conn: psycopg.Connection, cli: Any) -> None:
    ran: list[int] = []
    refund = _refund_tool(ran)
    with ledger.run(agent="shop", user="carol") as run:
        assert refund(4) == "refunded 4"
        proxy.down()  # open connections dropped, new ones refused
        elapsed = _fails_closed(lambda: refund(5))
        assert elapsed < 10
        assert ran == [4]
        proxy.recover()
    _assert_refused_call_recorded(proxied, ledger_conn, run.run_id, [4, 5], cli)


def test_low_level_wait_and_require_db_fail_closed_on_a_hung_database(
        proxied: Writer, proxy: TcpProxy, ledger_conn: psycopg.Connection, cli: Any) -> None:
    """What a custom integration does (docs/hooks.md "Custom integrations")."""
    with ledger.run(agent="custom", user="dana") as run:
        run.flush()
        proxy.hang()
        call = run.tool_started("refund", {"amount": 6}, side_effect=True, wait=True,
                                require_db=True)
        assert call.ack is not None
        started = time.monotonic()
        with pytest.raises((ledger.LedgerUnavailable, TimeoutError)):
            call.ack.result(ack_timeout())
        assert time.monotonic() - started < 10
        run.tool_ended(call, status="error", error="the ledger was unreachable; not run")
        proxy.recover()
    _assert_refused_call_recorded(proxied, ledger_conn, run.run_id, [6], cli)


def test_ack_timeout_setting_is_honoured(monkeypatch: pytest.MonkeyPatch, proxy: TcpProxy,
                                         tmp_path: Path, ledger_conn: psycopg.Connection,
                                         cli: Any) -> None:
    monkeypatch.setenv("LEDGER_ACK_TIMEOUT", "1")
    writer = hooks.configure(Settings.from_env(dsn=proxy.dsn, home=tmp_path / "home"),
                             sequence=True, retry_interval=0.05)
    try:
        assert ack_timeout() == 1.0
        ran: list[int] = []
        refund = _refund_tool(ran)
        with ledger.run(agent="shop", user="erin") as run:
            assert refund(7) == "refunded 7"
            proxy.hang()
            elapsed = _fails_closed(lambda: refund(8))
            assert elapsed < 4.5, f"LEDGER_ACK_TIMEOUT=1 but waited {elapsed:.1f} s"
            proxy.recover()
        _assert_refused_call_recorded(writer, ledger_conn, run.run_id, [7, 8], cli)
    finally:
        hooks.shutdown(timeout=15)


def test_bad_timeout_setting_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("LEDGER_STATEMENT_TIMEOUT", "soon")
    with pytest.raises(ledger.errors.InputError) as err:
        Settings.from_env(home=tmp_path)
    assert str(err.value) == ("LEDGER_STATEMENT_TIMEOUT must be a number of seconds between 0 "
                              "and 3600, not 'soon'")
    monkeypatch.setenv("LEDGER_STATEMENT_TIMEOUT", "2.5")
    monkeypatch.setenv("LEDGER_CONNECT_TIMEOUT", "1.2")
    timeouts = Settings.from_env(home=tmp_path).timeouts
    assert (timeouts.ack, timeouts.connect, timeouts.statement) == (5.0, 1.2, 2.5)
    assert (timeouts.connect_seconds, timeouts.statement_ms) == (2, 2500)
