"""OpenAI Agents SDK outside `ledger.run(...)`: never record less in silence."""

from __future__ import annotations

import asyncio

import pytest
from agents import Agent, Runner, function_tool

from ledger.integrations.openai_agents import LedgerRunHooks

from .agents_scripted import NamedPayModel

paid: list[str] = []


@function_tool
def pay(to: str, amount: str) -> str:
    """Pay someone."""
    paid.append(to)
    return "ok"


def test_outside_a_run_refuses_before_the_model_is_called(writer, ledger_conn):
    model = NamedPayModel()
    calls: list[object] = []
    original = model.get_response

    async def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return await original(*args, **kwargs)

    model.get_response = counted  # type: ignore[method-assign]
    agent = Agent(name="payer", tools=[pay], model=model)
    with pytest.raises(Exception) as info:
        asyncio.run(Runner.run(agent, "pay bob 5.00", hooks=LedgerRunHooks()))
    error = info.value if isinstance(info.value, RuntimeError) else info.value.__cause__
    assert isinstance(error, RuntimeError) and "ledger.run(...)" in str(error)
    assert calls == [] and paid == []
    assert writer.flush()
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0] == 0
