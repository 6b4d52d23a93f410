"""Implicit runs from the user's side (issue 17): a bare `@ledger.tool` called with no run is
recorded anyway, as a one-call run (run.started with implicit: true, intent, outcome,
run.ended), and with the database down it fails closed before its body runs."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

import ledger
from ledger.hooks.writer import Writer

from .conftest import FlakyDatabase, stored

bodies: list[str] = []
_lock = threading.Lock()


@ledger.tool(side_effect=True)
def refund(order_id: str, amount_usd: str) -> str:
    with _lock:
        bodies.append(order_id)
    return f"refunded {amount_usd}"


@ledger.tool(side_effect=True)
async def notify(user: str) -> str:
    await asyncio.sleep(0)
    return f"told {user}"



def test_a_bare_tool_outside_any_run_records_a_one_call_implicit_run(
    writer: Writer, ledger_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_AGENT", "billing-script")
    bodies.clear()
    assert refund("A-7", "12.00") == "refunded 12.00"
    assert asyncio.run(notify("ann")) == "told ann"
    assert ledger.current_run() is None
    assert writer.flush()
    runs = ledger_conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started' ORDER BY seq").fetchall()
    assert len(runs) == 2
    for (run_id,), tool, result in zip(runs, ("refund", "notify"),
                                      ("refunded 12.00", "told ann"), strict=True):
        events = stored(ledger_conn, run_id)
        assert [e.type for e in events] == ["run.started", "tool.call.started",
                                            "tool.call.ended", "run.ended"]
        assert events[0].data.implicit is True
        assert {e.agent.name for e in events} == {"billing-script"}
        assert events[1].data.tool == tool and events[1].data.side_effect is True
        assert events[2].data.status == "ok" and events[2].data.result == result
        assert events[3].data.status == "succeeded" and events[3].data.event_count == 4
        assert events[3].data.totals.tool_calls == 1
    assert bodies == ["A-7"]


def test_a_bare_tool_with_the_database_down_fails_closed_before_its_body(
    writer: Writer, flaky: FlakyDatabase
) -> None:
    bodies.clear()
    flaky.go_down()
    try:
        with pytest.raises(ledger.LedgerUnavailable):
            refund("A-8", "99.00")
        with pytest.raises(ledger.LedgerUnavailable):
            asyncio.run(notify("bob"))
    finally:
        flaky.come_back()
    assert bodies == []
    assert ledger.current_run() is None


def test_ten_concurrent_bare_calls_get_ten_implicit_runs(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    bodies.clear()
    threads = [threading.Thread(target=refund, args=(f"T-{i}", "1.00")) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.flush()
    assert sorted(bodies) == sorted(f"T-{i}" for i in range(10))
    rows = ledger_conn.execute(
        "SELECT run_id, count(*) FROM ledger_events GROUP BY run_id").fetchall()
    assert len(rows) == 10 and {n for _, n in rows} == {4}
