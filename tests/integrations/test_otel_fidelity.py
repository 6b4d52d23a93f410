"""OTel processor fidelity (issue 17): the user, guardrail verdicts, proposed tool calls and
exceptions recorded as the trace says, with the real SDK and spans built as instrumentation
would build them (GenAI semconv and OpenInference attribute names)."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from ledger.integrations.otel import LedgerSpanProcessor

from .conftest import stored
from .enforced import check

AGENT = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}


def _tracer(processor: LedgerSpanProcessor, resource: dict[str, Any] | None = None) -> Any:
    provider = TracerProvider(shutdown_on_exit=False, resource=Resource.create(resource or {}))
    provider.add_span_processor(processor)
    return provider.get_tracer("test")


def runs_by_trace(conn: Any) -> dict[str, Any]:
    """trace id (hex) -> the run holding that trace's events (asserting it is one run)."""
    found: dict[str, Any] = {}
    for (run_id,) in conn.execute("SELECT DISTINCT run_id FROM ledger_events").fetchall():
        for event in stored(conn, run_id):
            trace = event.correlation.trace_id if event.correlation else None
            if trace is not None:
                assert found.setdefault(trace, run_id) == run_id, "a trace split over runs"
    return found


def _run_of(conn: Any, trace_id: int) -> Any:
    return runs_by_trace(conn)[format(trace_id, "032x")]


def _trace(tracer: Any, root_attrs: dict[str, Any]) -> int:
    with tracer.start_as_current_span("invoke_agent support", attributes=root_attrs) as root:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}):
            pass
    return int(root.get_span_context().trace_id)


def test_span_user_wins_over_the_processor_default(writer, ledger_conn):
    processor = LedgerSpanProcessor(user="alice")
    tracer = _tracer(processor)
    bob = _trace(tracer, {**AGENT, "user.id": "bob"})
    carol = _trace(tracer, {**AGENT, "enduser.id": "carol"})
    nobody = _trace(tracer, AGENT)
    processor.force_flush()
    for trace_id, user, source in ((bob, "bob", "span:user.id"),
                                   (carol, "carol", "span:enduser.id"),
                                   (nobody, "alice", "processor")):
        events = stored(ledger_conn, _run_of(ledger_conn, trace_id))
        assert {e.principal.initiating_user for e in events} == {user}
        assert events[0].data.attributes["otel.user_source"] == source
    bob_start = stored(ledger_conn, _run_of(ledger_conn, bob))[0]
    assert bob_start.data.attributes["otel.user_conflicts"] == {"processor": "alice"}


def test_span_beats_resource_and_user_id_beats_enduser_id(writer, ledger_conn):
    processor = LedgerSpanProcessor()
    tracer = _tracer(processor, {"service.name": "svc", "enduser.id": "svc-account"})
    both = _trace(tracer, {**AGENT, "user.id": "bob", "enduser.id": "bob@corp"})
    resource_only = _trace(tracer, AGENT)
    processor.force_flush()
    start = stored(ledger_conn, _run_of(ledger_conn, both))[0]
    assert start.principal.initiating_user == "bob"
    assert start.data.attributes["otel.user_conflicts"] == {
        "span:enduser.id": "bob@corp", "resource:enduser.id": "svc-account"}
    start = stored(ledger_conn, _run_of(ledger_conn, resource_only))[0]
    assert start.principal.initiating_user == "svc-account"
    assert start.data.attributes["otel.user_source"] == "resource:enduser.id"


def test_a_later_span_naming_another_user_is_recorded(writer, ledger_conn):
    processor = LedgerSpanProcessor(user="alice")
    tracer = _tracer(processor)
    with tracer.start_as_current_span("invoke_agent support", attributes=AGENT) as root:
        with tracer.start_as_current_span("chat", attributes={
                "openinference.span.kind": "LLM", "user.id": "bob"}):
            pass
    processor.force_flush()
    events = stored(ledger_conn, _run_of(ledger_conn, root.get_span_context().trace_id))
    (conflict,) = [e for e in events if e.type == "custom"
                   and e.data.name == "otel.user.conflict"]
    assert conflict.data.attributes["span_user"] == "bob"
    assert conflict.data.attributes["run_user"] == "alice"


def test_a_user_set_after_the_root_span_started_is_recorded(writer, ledger_conn):
    processor = LedgerSpanProcessor(user="alice")
    tracer = _tracer(processor)
    with tracer.start_as_current_span("invoke_agent support", attributes=AGENT) as root:
        root.set_attribute("enduser.id", "bob")
    processor.force_flush()
    events = stored(ledger_conn, _run_of(ledger_conn, root.get_span_context().trace_id))
    assert [e.type for e in events] == ["run.started", "custom", "run.ended"]
    assert events[1].data.name == "otel.user.conflict"
    assert events[1].data.attributes["span_user"] == "bob"
    assert events[1].data.attributes["attribute"] == "span:enduser.id"


def test_guardrail_without_verdict_is_unknown_never_pass(writer, ledger_conn, ledger_settings):
    processor = LedgerSpanProcessor(user="alice")
    tracer = _tracer(processor)
    with tracer.start_as_current_span("invoke_agent support", attributes=AGENT) as root:
        for name, attrs in (("pii-check", {}), ("toxicity", {"guardrail.triggered": True}),
                            ("jailbreak", {"guardrail.triggered": False}),
                            ("schema", {"guardrail.verdict": "warn"}),
                            ("topic", {"guardrail.passed": "false"})):
            with tracer.start_as_current_span(name, attributes={
                    "openinference.span.kind": "GUARDRAIL", **attrs}):
                pass
    processor.force_flush()
    run_id = _run_of(ledger_conn, root.get_span_context().trace_id)
    verdicts = [(e.data.name, e.data.verdict) for e in stored(ledger_conn, run_id)
                if e.type == "guardrail.evaluated"]
    assert verdicts == [("pii-check", "unknown"), ("toxicity", "fail"), ("jailbreak", "pass"),
                        ("schema", "warn"), ("topic", "fail")]
    verdict = check(ledger_settings, run_id)
    assert verdict and all(outcome != "error" for outcome, _ in verdict.values())


def _semconv_output() -> str:
    return json.dumps([{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "text", "content": "Refunding."},
        {"type": "tool_call", "id": "call_a", "name": "refund",
         "arguments": {"order_id": "7", "amount_usd": 20}},
        {"type": "tool_call", "id": "call_b", "name": "notify", "arguments": '{"to": "bob"}'}]}])


def test_proposed_tool_calls_are_extracted(writer, ledger_conn, ledger_settings):
    processor = LedgerSpanProcessor(user="alice")
    tracer = _tracer(processor)
    oi_calls = {
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_c",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments":
            '{"order_id": "7"}',
        "llm.output_messages.0.message.tool_calls.1.tool_call.function.name": "escalate",
        "llm.output_messages.0.message.tool_calls.1.tool_call.function.arguments": "{}",
    }
    with tracer.start_as_current_span("invoke_agent support", attributes=AGENT) as root:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}) as llm:
            llm.set_attribute("gen_ai.output.messages", _semconv_output())
            llm.set_attribute("gen_ai.usage.input_tokens", 50)
            llm.set_attribute("gen_ai.usage.output_tokens", 10)
        with tracer.start_as_current_span("ChatOpenAI", attributes={
                "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", **oi_calls}):
            pass
    processor.force_flush()
    run_id = _run_of(ledger_conn, root.get_span_context().trace_id)
    ended = [e.data for e in stored(ledger_conn, run_id) if e.type == "llm.call.ended"]
    assert [(c.tool_call_id, c.name, c.args) for c in ended[0].proposed_tool_calls] == [
        ("call_a", "refund", {"order_id": "7", "amount_usd": 20}),
        ("call_b", "notify", {"to": "bob"})]
    assert [(c.tool_call_id, c.name, c.args) for c in ended[1].proposed_tool_calls] == [
        ("call_c", "lookup", {"order_id": "7"}), (None, "escalate", {})]
    assert ended[0].usage.input_tokens == 50 and ended[0].cost.amount_usd == "0.000225"
    assert ended[1].cost is None  # no token counts: unknown, never $0
    outcomes = check(ledger_settings, run_id)
    assert all(outcome != "fail" for outcome, _ in outcomes.values())


class CardDeclined(Exception):
    pass


def test_exceptions_keep_type_and_message_never_the_stack_trace(writer, ledger_conn):
    processor = LedgerSpanProcessor(user="alice")
    tracer = _tracer(processor)
    try:
        with tracer.start_as_current_span("invoke_agent support", attributes=AGENT) as root:
            with tracer.start_as_current_span("execute_tool charge", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "charge",
                    "gen_ai.tool.call.id": "call_9", "gen_ai.tool.call.arguments": "{}"}):
                raise CardDeclined("card declined \udcff" + "x" * 5000)
    except CardDeclined:
        pass
    processor.force_flush()
    run_id = _run_of(ledger_conn, root.get_span_context().trace_id)
    events = stored(ledger_conn, run_id)
    ended = next(e for e in events if e.type == "tool.call.ended")
    assert ended.data.status == "error" and ended.data.tool_call_id == "call_9"
    assert ended.data.error.message.startswith("CardDeclined: card declined")
    (exc,) = ended.raw.payload["events"]
    assert exc["name"] == "exception" and "exception.stacktrace" not in exc["attributes"]
    assert exc["attributes"]["exception.type"].endswith("CardDeclined")
    assert exc["attributes"]["exception.message"].startswith("card declined \\xff")
    assert len(exc["attributes"]["exception.message"]) == 4000
    dumped = json.dumps([e.model_dump(mode="json") for e in events])
    assert "Traceback" not in dumped and "test_otel_fidelity.py" not in dumped
    assert events[-1].type == "run.ended" and events[-1].data.status == "failed"
