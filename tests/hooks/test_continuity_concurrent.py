"""Run continuity under concurrency (issue 17): ten runs suspended and resumed at once in one
process, each continuing its own chain with its own totals; and two resumers of one run race,
and the ledger keeps one chain (the loser's events are rejected, never forked)."""

from __future__ import annotations

import threading

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.verify import verify_ledger

from .conftest import stored


@ledger.tool(side_effect=True)
def ship(order: str) -> str:
    return f"shipped {order}"


def _first_half(i: int, out: dict[int, ledger.Run]) -> None:
    with ledger.run(agent="ship-bot", user=f"user-{i}") as run:
        run.llm_call(model="gpt-4o", input_tokens=i + 1, output_tokens=1)
        run.suspend("interrupt", resume_key=f"k:{i}")
    out[i] = run


def _second_half(i: int, out: dict[int, str]) -> None:
    run_id = ledger.find_suspended(f"k:{i}")
    assert run_id is not None
    with ledger.resume(run_id) as run:
        out[i] = ship(f"O-{i}")
        run.llm_call(model="gpt-4o", input_tokens=10, output_tokens=1)


def _all(target: object, n: int, out: dict[int, object]) -> None:
    threads = [threading.Thread(target=target, args=(i, out)) for i in range(n)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def test_ten_runs_suspend_and_resume_concurrently_each_in_its_own_chain(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    runs: dict[int, object] = {}
    _all(_first_half, 10, runs)
    assert writer.flush()
    shipped: dict[int, object] = {}
    _all(_second_half, 10, shipped)
    assert shipped == {i: f"shipped O-{i}" for i in range(10)}
    assert writer.flush()
    for i, run in runs.items():
        events = stored(ledger_conn, run.run_id)  # type: ignore[attr-defined]
        assert [e.type for e in events] == [
            "run.started", "llm.call.started", "llm.call.ended", "run.suspended", "run.resumed",
            "tool.call.started", "tool.call.ended", "llm.call.started", "llm.call.ended",
            "run.ended"]
        assert {e.principal.initiating_user for e in events} == {f"user-{i}"}
        assert events[5].data.args == {"order": f"O-{i}"}
        totals = events[-1].data.totals
        assert (totals.llm_calls, totals.tool_calls, totals.input_tokens) == (2, 1, i + 11)
        assert events[-1].data.event_count == 10
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_two_resumers_of_one_run_leave_one_chain(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    with ledger.run(agent="race-bot") as run:
        run.suspend(resume_key="k:race")
    assert writer.flush()
    first, second = ledger.resume(run.run_id), ledger.resume(run.run_id)
    with first:
        first.custom("from-first")
    with pytest.raises(ledger.LedgerUnavailable, match="resumed by another process first"):
        with second:  # the loser fails closed at once (review r17a: test_r17a_resume_race)
            second.custom("from-second")
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert [e.type for e in events] == ["run.started", "run.suspended", "run.resumed", "custom",
                                        "run.ended"]
    assert events[3].data.name == "from-first"
    reasons = [r for (r,) in ledger_conn.execute("SELECT reason FROM ledger_rejects")]
    assert len(reasons) == 1 and all(f"run {run.run_id}" in r for r in reasons)
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


@ledger.tool(side_effect=True)
async def ship_async(order: str) -> str:
    return f"shipped {order}"


def test_twelve_asyncio_tasks_resume_their_own_runs_with_async_with(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    import asyncio

    async def first(i: int) -> ledger.Run:
        async with ledger.run(agent="async-bot", user=f"u{i}") as run:
            run.suspend(resume_key=f"a:{i}")
        return run

    async def second(i: int) -> str:
        async with ledger.resume(ledger.find_suspended(f"a:{i}")) as run:
            assert ledger.current_run() is run
            return await ship_async(f"A-{i}")

    async def main() -> tuple[list[ledger.Run], list[str]]:
        runs = await asyncio.gather(*(first(i) for i in range(12)))
        assert writer.flush()
        return runs, await asyncio.gather(*(second(i) for i in range(12)))

    runs, results = asyncio.run(main())
    assert results == [f"shipped A-{i}" for i in range(12)]
    assert writer.flush()
    for i, run in enumerate(runs):
        events = stored(ledger_conn, run.run_id)
        assert [e.type for e in events] == ["run.started", "run.suspended", "run.resumed",
                                            "tool.call.started", "tool.call.ended", "run.ended"]
        assert events[3].data.args == {"order": f"A-{i}"}
        assert {e.principal.initiating_user for e in events} == {f"u{i}"}
