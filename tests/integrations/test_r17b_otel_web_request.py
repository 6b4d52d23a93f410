"""OpenTelemetry in a web app: the request's server span (from the web framework's own
instrumentation) starts before the handler opens `ledger.run(user=...)`, and the GenAI spans
come inside that run. The docs say: inside a `ledger.run(...)`, events join that run. Written
as a user would: the processor added to the provider, a server span, `ledger.run` in the
handler, a model call and a tool call, plus one trace with no `ledger.run` at all."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider

import ledger
from ledger.integrations.otel import LedgerSpanProcessor

from .conftest import stored
from .enforced import check

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}
TOOL = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund",
        "gen_ai.tool.call.id": "call_7", "gen_ai.tool.call.arguments": '{"order": "7"}'}


def _run_ids(conn: Any) -> list[Any]:
    return [r[0] for r in conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started' ORDER BY seq").fetchall()]


def _handle(tracer: Any, user: str) -> Any:
    """One request: the server span first, then the handler's ledger.run and its calls."""
    with tracer.start_as_current_span("POST /refund", attributes={"http.method": "POST"}):
        with ledger.run(agent="refunds", user=user) as run:
            with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT):
                pass
            with tracer.start_as_current_span("execute_tool refund", attributes=TOOL):
                pass
    return run.run_id


def test_spans_inside_ledger_run_join_it_though_the_trace_began_outside(
        writer, ledger_conn, ledger_settings):
    processor = LedgerSpanProcessor(user="svc")
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("web")
    bob, cy = _handle(tracer, "bob"), _handle(tracer, "cy")
    provider.force_flush()
    assert ledger.flush()
    assert _run_ids(ledger_conn) == [bob, cy]  # no run of the server span's own
    for run_id, user in ((bob, "bob"), (cy, "cy")):
        events = stored(ledger_conn, run_id)
        assert [e.type for e in events] == [
            "run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
            "tool.call.ended", "run.ended"]
        assert {e.principal.initiating_user for e in events} == {user}
        usage = events[2].data.usage
        assert (usage.input_tokens, usage.output_tokens) == (100, 20)
        assert events[2].data.cost is not None
        assert events[3].data.tool_call_id == events[4].data.tool_call_id == "call_7"
        totals = events[-1].data.totals
        assert (totals.llm_calls, totals.tool_calls, totals.input_tokens) == (1, 1, 100)
        outcomes = check(ledger_settings, run_id)
        assert outcomes and all(o != "fail" for o, _ in outcomes.values()), outcomes
    assert processor._traces == {}  # nothing of the finished traces is held


def test_trace_outside_any_run_still_gets_its_own_run(writer, ledger_conn):
    processor = LedgerSpanProcessor(user="svc")
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("web")
    with tracer.start_as_current_span("POST /refund", attributes={"user.id": "dan"}):
        with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT):
            pass
    provider.force_flush()
    assert ledger.flush()
    [run_id] = _run_ids(ledger_conn)
    events = stored(ledger_conn, run_id)
    assert [e.type for e in events] == ["run.started", "llm.call.started", "llm.call.ended",
                                        "run.ended"]
    assert {e.principal.initiating_user for e in events} == {"dan"}
