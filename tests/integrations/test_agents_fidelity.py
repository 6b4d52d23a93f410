"""OpenAI Agents SDK: a handoff is recorded once; a model without a name costs `unknown`.

Handoffs have one owner: `LedgerRunHooks.on_handoff` in the documented set-up (hooks plus the
tracing processor), the processor's handoff span with `record_calls=True` (no hooks). A model
object without `.model` is recorded as model `unknown`, and `ledger replay` shows its cost as
unknown, never "$0".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, Runner, function_tool, set_trace_processors

import ledger.hooks as hooks
from ledger.integrations.openai_agents import LedgerRunHooks, LedgerTracingProcessor

from .agents_scripted import IN, OUT, PayModel, answer, check, cli, propose
from .conftest import stored


class TriageModel(PayModel):
    """Hands the conversation to billing."""

    model = "gpt-4o-mini"

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return propose("transfer_to_billing", {}, "call_handoff")


class BillingModel(PayModel):
    model = "gpt-4o-mini"

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return answer("billing here")


@pytest.fixture
def processor(request: pytest.FixtureRequest) -> Iterator[LedgerTracingProcessor]:
    proc = LedgerTracingProcessor(record_calls=request.param)
    set_trace_processors([proc])
    yield proc
    set_trace_processors([])


def _agents() -> Agent[Any]:
    billing = Agent(name="billing", model=BillingModel())
    return Agent(name="triage", handoffs=[billing], model=TriageModel())


@pytest.mark.parametrize("processor", [False], indirect=True)
def test_handoff_recorded_once_with_hooks_and_processor(writer, ledger_conn, processor):
    async def main() -> Any:
        async with hooks.run(agent="triage", user="ann") as run:
            result = await Runner.run(_agents(), "refund please", hooks=LedgerRunHooks())
        assert result.final_output == "billing here"
        return run

    run = asyncio.run(main())
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    handoffs = [e for e in events if e.type == "custom" and "handoff" in e.data.name]
    assert len(handoffs) == 1
    assert handoffs[0].data.attributes == {"from_agent": "triage", "to_agent": "billing"}
    assert sum(e.type == "llm.call.ended" for e in events) == 2
    assert {e.principal.initiating_user for e in events} == {"ann"}


@pytest.mark.parametrize("processor", [True], indirect=True)
def test_handoff_recorded_once_by_the_processor_alone(writer, ledger_conn, processor):
    async def main() -> Any:
        async with hooks.run(agent="triage", user="ann") as run:
            await Runner.run(_agents(), "refund please")
        return run

    run = asyncio.run(main())
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    handoffs = [e for e in events if e.type == "custom" and "handoff" in e.data.name]
    assert len(handoffs) == 1
    assert handoffs[0].data.name == "openai_agents.handoff"
    assert handoffs[0].raw.payload["span_data"]["to_agent"] == "billing"


@function_tool
def pay(to: str, amount: str) -> str:
    """Pay someone."""
    return f"paid {amount} to {to}"


def test_model_without_a_name_is_unknown_and_so_is_its_cost(writer, ledger_conn,
                                                             ledger_settings):
    async def main() -> Any:
        agent = Agent(name="payer", tools=[pay], model=PayModel())  # no `.model`
        async with hooks.run(agent="payer", user="ann") as run:
            await Runner.run(agent, "pay bob 5.00", hooks=LedgerRunHooks())
        return run

    run = asyncio.run(main())
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    started = [e for e in events if e.type == "llm.call.started"]
    ended = [e for e in events if e.type == "llm.call.ended"]
    assert [e.data.request_model for e in started] == ["unknown", "unknown"]
    assert [e.data.response_model for e in ended] == ["unknown", "unknown"]
    assert [e.data.cost for e in ended] == [None, None]
    assert [(e.data.usage.input_tokens, e.data.usage.output_tokens) for e in ended] == [
        (IN, OUT)] * 2
    shown = cli(ledger_settings, "replay", str(run.run_id))
    assert "unknown (2 LLM call(s) without cost)" in shown and "$0" not in shown
    assert check(ledger_settings, run.run_id, ledger_settings.home)["capture.open_calls"] == "pass"
