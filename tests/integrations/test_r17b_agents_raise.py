"""OpenAI Agents SDK, outside `ledger.run(...)`: an SDK run that raises mid-way must not leave
its implicit ledger run open forever (`ledger serve` only abandons *suspended* runs), nor its
model call open. Written as a user would: two lines (the hooks) added to an agent whose model
provider fails on the second turn."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest
from agents import Agent, Runner, function_tool

import ledger
from ledger.integrations.openai_agents import LedgerRunHooks

from .agents_scripted import IN, OUT, NamedPayModel
from .conftest import stored

paid: list[str] = []


@function_tool
def pay(to: str, amount: str) -> str:
    """Pay someone."""
    paid.append(to)
    return "ok"


class FailingSecondTurn(NamedPayModel):
    """Proposes `pay`, then the provider fails (a 500) on the turn after the tool answered."""

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> Any:
        if "function_call_output" in str(input):
            raise RuntimeError("provider returned 500")
        return await super().get_response(system_instructions, input, *args, **kwargs)


def _run_ids(conn: Any) -> list[Any]:
    gc.collect()
    assert ledger.flush()
    rows = conn.execute("SELECT run_id FROM ledger_events WHERE type = 'run.started' "
                        "ORDER BY seq").fetchall()
    return [r[0] for r in rows]


def _ended(conn: Any, run_id: Any, deadline: float) -> list[Any]:
    """The run's events once its run.ended is stored (polling: the SDK drops its run when the
    exception is gone, and the writer delivers asynchronously)."""
    while True:
        gc.collect()
        ledger.flush()
        events = stored(conn, run_id)
        if (events and events[-1].type == "run.ended") or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def test_sdk_run_that_raises_ends_its_implicit_run_failed(writer, ledger_conn):
    paid.clear()
    agent = Agent(name="payer", tools=[pay], model=FailingSecondTurn())
    hooks = LedgerRunHooks(user="ann")
    with pytest.raises(RuntimeError, match="provider returned 500"):
        asyncio.run(Runner.run(agent, "pay bob 5.00", hooks=hooks))
    assert paid == ["bob"]
    [run_id] = _run_ids(ledger_conn)
    events = _ended(ledger_conn, run_id, time.monotonic() + 20)
    assert [e.type for e in events] == [
        "run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
        "tool.call.ended", "llm.call.started", "llm.call.ended", "run.ended"]
    assert {e.principal.initiating_user for e in events} == {"ann"}
    failed_call = events[6].data
    assert failed_call.usage is None and failed_call.error is not None
    assert failed_call.call_id == events[5].data.call_id
    end = events[-1].data
    assert end.status == "failed" and end.error is not None
    assert end.totals.llm_calls == 2 and end.totals.tool_calls == 1
    assert end.totals.input_tokens == IN and end.totals.output_tokens == OUT
    assert end.event_count == len(events)
    assert len(hooks._sdk) == 0  # nothing of the failed SDK run is held


def test_next_sdk_run_after_a_failure_is_a_run_of_its_own(writer, ledger_conn):
    hooks = LedgerRunHooks(user="ann")

    async def main() -> Any:
        with pytest.raises(RuntimeError):
            await Runner.run(Agent(name="payer", tools=[pay], model=FailingSecondTurn()),
                             "pay bob 5.00", hooks=hooks)
        return await Runner.run(Agent(name="payer", tools=[pay], model=NamedPayModel()),
                                "pay cy 6.00", hooks=hooks)

    assert asyncio.run(main()).final_output == "done"
    first, second = _run_ids(ledger_conn)
    assert _ended(ledger_conn, first, time.monotonic() + 20)[-1].data.status == "failed"
    assert _ended(ledger_conn, second, time.monotonic() + 20)[-1].data.status == "succeeded"



def test_with_the_tracing_processor_too(writer, ledger_conn):
    """The documented set-up (hooks plus `LedgerTracingProcessor`): the same failed run, with
    the processor's agent span inside it, before its run.ended."""
    from agents import set_trace_processors

    from ledger.integrations.openai_agents import LedgerTracingProcessor

    set_trace_processors([LedgerTracingProcessor()])
    try:
        with pytest.raises(RuntimeError, match="provider returned 500"):
            asyncio.run(Runner.run(Agent(name="payer", tools=[pay], model=FailingSecondTurn()),
                                   "pay bob 5.00", hooks=LedgerRunHooks(user="ann")))
        [run_id] = _run_ids(ledger_conn)
        events = _ended(ledger_conn, run_id, time.monotonic() + 20)
    finally:
        set_trace_processors([])
    assert events[-1].type == "run.ended" and events[-1].data.status == "failed"
    assert events[-1].data.event_count == len(events)
    assert {e.principal.initiating_user for e in events} == {"ann"}
    rejects = ledger_conn.execute("SELECT count(*) FROM ledger_rejects").fetchone()[0]
    assert rejects == 0
