"""Review r17a: a call waiting for its approval (policies.approval_wait_seconds) polls the
ledger on one connection. If the database hangs during the wait (accepts TCP, never answers),
each poll must still end within the statement bound: the call ends when the wait is over (or
fails closed), never stalls the agent for good."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer

from .conftest import stored
from .tcpproxy import TcpProxy
from .test_enforce_live import _publish, _until
from .test_failclosed_timeouts import proxy

__all__ = ["proxy"]
ran: list[int] = []


@ledger.tool(name="payments.refund")
def refund(order: int) -> int:
    ran.append(order)
    return order


@pytest.fixture
def proxied_fast(proxy: TcpProxy, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Writer]:
    monkeypatch.setenv("LEDGER_LIVE_POLL", "0.05")
    settings = Settings(home=tmp_path / "home", dsn=proxy.dsn)
    yield hooks.configure(settings, sequence=True, retry_interval=0.05, sequence_interval=0.0)
    hooks.shutdown(timeout=15)


def test_a_hung_database_during_an_approval_wait_does_not_stall_the_call(
    proxied_fast: Writer, proxy: TcpProxy, ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
) -> None:
    _publish(ledger_conn, ledger_settings, "policies:\n  approval_wait_seconds: 2\n"
             "  require_approval_for: [{action: payments.refund, any: true}]\n")
    outcome: list[Any] = []
    run_id: list[uuid.UUID] = []

    def agent() -> None:
        try:
            with ledger.run(agent="waiter") as run:
                run_id.append(run.run_id)
                refund(9)
        except BaseException as exc:  # the test reads what the agent got
            outcome.append(exc)

    thread = threading.Thread(target=agent, daemon=True)
    thread.start()
    _until(lambda: bool(run_id) and any(e.type == "approval.requested"
                                        for e in stored(ledger_conn, run_id[0])),
           "the approval request")
    proxy.hang()
    thread.join(15)  # 2 s wait + one poll's bound (~2.5 s) + the run's end, loosely
    stalled = thread.is_alive()
    proxy.recover()
    assert not stalled, "the approval wait stalled on a hung database"
    assert ran == []
    assert isinstance(outcome[0], ledger.ApprovalRequired | ledger.LedgerUnavailable)
