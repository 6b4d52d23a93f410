"""OTel SpanProcessor with the real SDK: gen_ai.* and OpenInference spans become events."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

import ledger.hooks as hooks
from ledger.integrations.otel import LedgerSpanProcessor

from .conftest import stored


def _provider(processor: LedgerSpanProcessor) -> TracerProvider:
    # Not shut down at exit: the processor's shutdown flushes the process writer, which by then
    # is a default one on the user's home and would start an embedded server there.
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return provider


def test_gen_ai_spans_map_to_events(writer, ledger_conn):
    processor = LedgerSpanProcessor(user="alice")
    tracer = _provider(processor).get_tracer("test")
    with tracer.start_as_current_span("invoke_agent planner", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
            "gen_ai.conversation.id": "conv-1"}) as root:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.provider.name": "openai"}) as llm:
            llm.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
            llm.set_attribute("gen_ai.usage.input_tokens", 100)
            llm.set_attribute("gen_ai.usage.output_tokens", 20)
            llm.set_attribute("gen_ai.response.finish_reasons", ["tool_calls"])
        with tracer.start_as_current_span("execute_tool search", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
                "gen_ai.tool.call.id": "call_1",
                "gen_ai.tool.call.arguments": '{"q": "refund policy"}'}) as tool:
            tool.set_attribute("gen_ai.tool.call.result", '{"hits": 3}')
        trace_id = format(root.get_span_context().trace_id, "032x")
    processor.force_flush()
    run_id = ledger_conn.execute(
        "SELECT run_id FROM ledger_events WHERE type='run.started' ORDER BY seq DESC LIMIT 1"
    ).fetchone()[0]
    events = stored(ledger_conn, run_id)
    assert [e.type for e in events] == ["run.started", "llm.call.started", "llm.call.ended",
                                        "tool.call.started", "tool.call.ended", "run.ended"]
    assert events[0].agent.name == "planner" and events[0].principal.initiating_user == "alice"
    llm_end = events[2]
    assert llm_end.data.usage.input_tokens == 100
    assert llm_end.data.cost.amount_usd == "0.00045"
    assert llm_end.source.schema_ == "otel.gen_ai@1.37"
    assert llm_end.raw.payload["attributes"]["gen_ai.request.model"] == "gpt-4o"
    assert llm_end.correlation.trace_id == trace_id
    assert llm_end.correlation.conversation_id == "conv-1"
    assert events[3].data.args == {"q": "refund policy"} and events[3].data.tool_call_id == "call_1"
    assert events[4].data.result == {"hits": 3}
    assert events[-1].data.totals.llm_calls == 1


def test_openinference_spans_inside_a_ledger_run(writer, ledger_conn):
    tracer = _provider(LedgerSpanProcessor()).get_tracer("test")
    with hooks.run(agent="oi-agent", user="bob") as run:
        with tracer.start_as_current_span("ChatOpenAI", attributes={
                "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 10, "llm.token_count.completion": 5}):
            pass
        with tracer.start_as_current_span("lookup", attributes={
                "openinference.span.kind": "TOOL", "tool.name": "lookup"}) as span:
            span.set_status(Status(StatusCode.ERROR, "timeout"))
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    types = [e.type for e in events]
    assert types == ["run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
                     "tool.call.ended", "run.ended"]
    assert events[2].source.schema_.startswith("openinference@")
    assert events[2].data.usage.output_tokens == 5
    assert events[4].data.status == "error" and events[4].data.error.message == "timeout"
    assert all(e.principal.initiating_user == "bob" for e in events)
