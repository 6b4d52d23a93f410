"""@ledger.tool: intent before action, fail closed, outcomes, bad input, cancellation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import ledger.hooks as hooks
from ledger.hooks.writer import Writer

from .conftest import FlakyDatabase, stored

ran: list[str] = []


@hooks.tool(name="refund", side_effect=True)
def refund(order_id: str, amount: str) -> dict[str, str]:
    ran.append(order_id)
    return {"refund_id": f"r-{order_id}", "amount": amount}


@hooks.tool(name="search", side_effect=False, fail_open=True)
def search(query: str) -> list[str]:
    return [query.upper()]


@hooks.tool(name="explode")
def explode() -> None:
    raise KeyError("no such order")


@hooks.tool(name="slow")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


def test_intent_is_durable_before_the_body_runs(writer: Writer, ledger_conn, ledger_settings):
    seen: list[int] = []

    @hooks.tool(name="probe")
    def probe() -> None:
        # By now tool.call.started must be committed in the intake table.
        with __import__("ledger.db.connect", fromlist=["connect"]).connect(ledger_settings) as c:
            seen.append(c.execute("SELECT count(*) FROM ledger_intake").fetchone()[0]
                        + c.execute("SELECT count(*) FROM ledger_events").fetchone()[0])

    with hooks.run(agent="a"):
        probe()
    assert seen and seen[0] >= 2  # run.started + tool.call.started


def test_tool_records_args_result_and_duration(writer: Writer, ledger_conn):
    with hooks.run(agent="a", user="alice") as run:
        assert refund("o1", amount="12.50") == {"refund_id": "r-o1", "amount": "12.50"}
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    start, end = events[1], events[2]
    assert start.type == "tool.call.started" and start.data.tool == "refund"
    assert start.data.args == {"order_id": "o1", "amount": "12.50"}
    from ledger.events import args_hash

    assert start.data.args_hash == args_hash({"order_id": "o1", "amount": "12.50"})
    assert start.data.side_effect is True
    assert end.data.status == "ok" and end.data.result == {"refund_id": "r-o1", "amount": "12.50"}
    assert end.data.tool_call_id == start.data.tool_call_id
    assert end.data.duration_ns is not None
    assert events[-1].data.totals.tool_calls == 1


def test_tool_exception_reaches_agent_unchanged(writer: Writer, ledger_conn):
    with hooks.run(agent="a") as run, pytest.raises(KeyError, match="no such order"):
        explode()
    writer.flush()
    end = next(e for e in stored(ledger_conn, run.run_id) if e.type == "tool.call.ended")
    assert end.data.status == "error" and end.data.error.type == "KeyError"


def test_async_tool_and_cancellation(writer: Writer, ledger_conn):
    async def main() -> Any:
        async with hooks.run(agent="a") as run:
            assert await slow(0) == "done"
            task = asyncio.create_task(slow(10))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return run

    run = asyncio.run(main())
    writer.flush()
    ends = [e for e in stored(ledger_conn, run.run_id) if e.type == "tool.call.ended"]
    assert [e.data.status for e in ends] == ["ok", "cancelled"]


def test_side_effecting_tool_fails_closed_when_db_down(writer: Writer, flaky: FlakyDatabase,
                                                       ledger_conn):
    ran.clear()
    with hooks.run(agent="a") as run:
        flaky.go_down()
        with pytest.raises(hooks.LedgerUnavailable, match="not run"):
            refund("o2", amount="1")
        assert ran == []  # the body never ran
        assert search("x") == ["X"]  # a fail-open read-only tool still works
        flaky.come_back()
        assert refund("o3", amount="2") == {"refund_id": "r-o3", "amount": "2"}
    assert writer.flush()
    assert ran == ["o3"]
    events = stored(ledger_conn, run.run_id)
    assert [e.run_seq for e in events] == list(range(len(events)))  # chain intact, all delivered
    blocked = [e for e in events if e.type == "tool.call.ended" and e.data.status == "error"]
    assert blocked and blocked[0].data.error.type == "LedgerUnavailable"
    assert events[-1].type == "run.ended"


def test_outside_a_run_tools_just_run(writer: Writer):
    assert search("q") == ["Q"]


def test_tools_from_threads_share_the_run_chain(writer: Writer, ledger_conn):
    import contextvars

    with hooks.run(agent="a") as run:
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(search, str(i)))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert len(events) == 2 + 16
    assert events[-1].data.event_count == 18
