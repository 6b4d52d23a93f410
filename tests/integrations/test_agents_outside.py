"""OpenAI Agents SDK outside `ledger.run(...)`: fail closed, never record less in silence."""

from __future__ import annotations

import asyncio

import pytest
from agents import Agent, Runner, function_tool

import ledger.hooks as hooks
from ledger.integrations.openai_agents import LedgerRunHooks, record_interruptions

from .agents_scripted import NamedPayModel

paid: list[str] = []


@function_tool
def pay(to: str, amount: str) -> str:
    """Pay someone."""
    paid.append(to)
    return "ok"


class CountingModel(NamedPayModel):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def get_response(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return await super().get_response(*args, **kwargs)


def test_ledger_down_refuses_the_implicit_run_before_the_model_is_called(writer, flaky):
    """The implicit run must first ask the ledger whether it resumes a suspended run: with
    the ledger unreachable the SDK run stops there (`LedgerUnavailable`), nothing runs."""
    paid.clear()
    model = CountingModel()
    agent = Agent(name="payer", tools=[pay], model=model)
    flaky.go_down()
    with pytest.raises(Exception) as info:
        asyncio.run(Runner.run(agent, "pay bob 5.00", hooks=LedgerRunHooks()))
    error = info.value
    assert isinstance(error, hooks.LedgerUnavailable) or isinstance(
        error.__cause__, hooks.LedgerUnavailable), repr(error)
    assert model.calls == 0 and paid == []
    flaky.come_back()


def test_record_interruptions_without_any_run_raises(writer):
    """A result from a run the ledger did not see (no hooks, no ledger.run) is refused."""

    class Result:
        interruptions = ()

        def to_state(self) -> object:
            raise ValueError("no state")

    with pytest.raises(RuntimeError, match="found no ledger run"):
        record_interruptions(Result())
