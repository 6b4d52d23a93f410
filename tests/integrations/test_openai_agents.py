"""OpenAI Agents SDK with a fake Model (no network): hooks, tracing processor, approvals."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, Runner, function_tool, set_trace_processors
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

import ledger.hooks as hooks
from ledger.events import args_hash
from ledger.integrations.openai_agents import (
    LedgerRunHooks,
    LedgerTracingProcessor,
    approve,
    record_interruptions,
)

from .conftest import stored

executed: list[str] = []


class FakeModel(Model):
    """First turn proposes a transfer; second turn answers."""

    model = "gpt-4o-mini"

    def __init__(self) -> None:
        self.turn = 0

    async def get_response(self, system_instructions: Any, input: Any, model_settings: Any,
                           tools: Any, output_schema: Any, handoffs: Any, tracing: Any, *,
                           previous_response_id: Any = None, conversation_id: Any = None,
                           prompt: Any = None) -> ModelResponse:
        self.turn += 1
        if self.turn == 1:
            out: list[Any] = [ResponseFunctionToolCall(
                type="function_call", name="transfer", arguments='{"to":"bob","amount":"900"}',
                call_id="call_1", id="fc_1", status="completed")]
        else:
            out = [ResponseOutputMessage(
                id="m1", type="message", role="assistant", status="completed",
                content=[ResponseOutputText(type="output_text", text="done", annotations=[])])]
        return ModelResponse(output=out, response_id=None, usage=Usage(
            requests=1, input_tokens=100, output_tokens=10, total_tokens=110))

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@function_tool(needs_approval=True)
def transfer(to: str, amount: str) -> str:
    """Transfer money."""
    executed.append(to)
    return f"sent {amount} to {to}"


@pytest.fixture
def processor() -> Iterator[LedgerTracingProcessor]:
    proc = LedgerTracingProcessor()
    set_trace_processors([proc])
    yield proc
    set_trace_processors([])


def test_run_with_approval(writer, ledger_conn, processor):
    executed.clear()

    async def main() -> Any:
        agent = Agent(name="payer", instructions="pay", tools=[transfer], model=FakeModel())
        run_hooks = LedgerRunHooks()
        async with hooks.run(agent="payer", user="alice") as run:
            first = await Runner.run(agent, "pay bob 900", hooks=run_hooks)
            (approval,) = record_interruptions(first)
            state = first.to_state()
            approve(state, first.interruptions[0], approver="carol", roles=["finance_lead"])
            final = await Runner.run(agent, state, hooks=run_hooks)
            assert final.final_output == "done"
        return run, approval

    run, approval = asyncio.run(main())
    assert approval.tool_call_id == "call_1"
    assert executed == ["bob"]
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    types = [e.type for e in events]
    assert types.count("llm.call.ended") == 2
    llm = next(e for e in events if e.type == "llm.call.ended")
    assert llm.data.usage.input_tokens == 100 and llm.data.cost.amount_usd == "0.000021"
    assert llm.data.proposed_tool_calls[0].tool_call_id == "call_1"
    req = next(e for e in events if e.type == "approval.requested")
    dec = next(e for e in events if e.type == "approval.decided")
    start = next(e for e in events if e.type == "tool.call.started")
    assert req.data.tool_call_id == dec.data.tool_call_id == start.data.tool_call_id == "call_1"
    assert req.data.args_hash == start.data.args_hash == args_hash({"to": "bob", "amount": "900"})
    assert dec.data.approver.id == "carol"
    assert types.index("approval.decided") < types.index("tool.call.started")
    assert any(e.type == "custom" and e.data.name == "openai_agents.agent" for e in events)
    agent_span = next(e for e in events if e.type == "custom" and e.raw is not None)
    assert agent_span.raw.schema_.startswith("openai-agents@")


def test_tool_fails_closed_when_db_down(writer, flaky, ledger_conn, processor):
    executed.clear()

    @function_tool
    def wire(to: str, amount: str) -> str:
        """Wire money."""
        executed.append(to)
        return "ok"

    class WireModel(FakeModel):
        async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
            response = await super().get_response(*args, **kwargs)
            if self.turn == 1:
                response.output[0] = response.output[0].model_copy(update={"name": "wire"})
            return response

    async def main() -> None:
        agent = Agent(name="wirer", tools=[wire], model=WireModel())
        async with hooks.run(agent="wirer"):
            flaky.go_down()
            await Runner.run(agent, "wire", hooks=LedgerRunHooks())

    # The SDK wraps hook errors in UserError; the cause is our refusal, and the tool never ran.
    with pytest.raises(Exception) as info:
        asyncio.run(main())
    assert isinstance(info.value, hooks.LedgerUnavailable) or isinstance(
        info.value.__cause__, hooks.LedgerUnavailable)
    assert executed == []
    flaky.come_back()
    assert writer.flush()


def test_processor_records_generation_spans_when_asked(writer, ledger_conn):
    from agents.tracing import generation_span, trace

    proc = LedgerTracingProcessor(agent="traced", record_calls=True)
    set_trace_processors([proc])
    try:
        with trace("workflow") as t, generation_span(
                model="gpt-4o", input=[{"role": "user", "content": "hi"}],
                usage={"input_tokens": 7, "output_tokens": 3}) as span:
            span.span_data.output = [{"role": "assistant", "content": "hello"}]
    finally:
        set_trace_processors([])
    writer.flush()
    from ledger.events import decode_event

    started = [decode_event(bytes(r[0])) for r in ledger_conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'llm.call.started'").fetchall()]
    (llm,) = [e for e in started if e.correlation.trace_id == t.trace_id]
    events = stored(ledger_conn, llm.run_id)
    assert [e.type for e in events] == ["run.started", "llm.call.started", "llm.call.ended",
                                        "run.ended"]
    assert events[2].data.usage.input_tokens == 7 and events[2].data.cost is not None
    assert events[2].raw.payload["span_data"]["type"] == "generation"
