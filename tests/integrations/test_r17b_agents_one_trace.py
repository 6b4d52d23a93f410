"""OpenAI Agents SDK: concurrent `Runner.run`s inside one `trace(...)` (the SDK's documented way
to group a workflow's runs) are separate SDK runs and must be separate implicit ledger runs.

Written as a user would: a batch job wraps its requests in `with trace("refund batch")` and
runs them with `asyncio.gather`, one Agent, one `LedgerRunHooks`. The SDK runs share the trace
id, which keys the implicit run: each request must still get its own run, with exactly its own
calls, its `run.ended` after its own last event, and the trace id in `correlation`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents import Agent, Runner, function_tool, trace

from ledger.integrations.openai_agents import LedgerRunHooks

from .agents_scripted import NamedPayModel
from .test_agents_concurrency import assert_run

N = 10


@function_tool
def pay(to: str, amount: str) -> str:
    """Pay someone."""
    return f"paid {amount} to {to}"


def _runs(conn: Any) -> list[Any]:
    return [r[0] for r in conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started' ORDER BY seq").fetchall()]


def test_concurrent_sdk_runs_in_one_trace_are_runs_of_their_own(writer, ledger_conn,
                                                                 ledger_settings):
    agent = Agent(name="payer", tools=[pay], model=NamedPayModel(gate_size=N))
    run_hooks = LedgerRunHooks(user="svc")

    async def main() -> list[Any]:
        with trace("refund batch") as batch:
            results = await asyncio.gather(*(
                Runner.run(agent, f"pay p{i} {i}.00", hooks=run_hooks) for i in range(N)))
        assert [r.final_output for r in results] == ["done"] * N
        return batch.trace_id

    trace_id = asyncio.run(main())
    assert writer.flush()
    run_ids = _runs(ledger_conn)
    assert len(run_ids) == N
    seen = set()
    from .conftest import stored

    for run_id in run_ids:
        events = stored(ledger_conn, run_id)
        assert {e.correlation.trace_id for e in events} == {trace_id}
        who = next(e for e in events if e.type == "tool.call.started").data.tool_call_id[5:]
        seen.add(who)
        assert_run(ledger_conn, ledger_settings, run_id, "svc", who, f"{who[1:]}.00")
    assert seen == {f"p{i}" for i in range(N)}


def test_sequential_sdk_runs_in_one_trace(writer, ledger_conn, ledger_settings):
    """A workflow's second run, after the first ended, is a new run (not the ended one)."""
    agent = Agent(name="payer", tools=[pay], model=NamedPayModel())
    run_hooks = LedgerRunHooks(user="svc")

    async def main() -> None:
        with trace("two steps"):
            for who in ("ann", "bob"):
                result = await Runner.run(agent, f"pay {who} 1.00", hooks=run_hooks)
                assert result.final_output == "done"

    asyncio.run(main())
    assert writer.flush()
    first, second = _runs(ledger_conn)
    assert_run(ledger_conn, ledger_settings, first, "svc", "ann", "1.00")
    assert_run(ledger_conn, ledger_settings, second, "svc", "bob", "1.00")
