"""OTel span overhead: a GenAI trace (agent span, chat span with usage, tool span) through a
plain TracerProvider vs one with LedgerSpanProcessor, per span, in the same run.

`python -m bench.integrations.otel [--quick]`; uses LEDGER_BENCH_DSN's server or the embedded one.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

import ledger.hooks as hooks
from bench.common import fresh_settings
from bench.integrations.common import Overhead
from ledger.integrations.otel import LedgerSpanProcessor

SPANS_PER_TRACE = 3


def _trace(tracer: Any, n: int) -> None:
    with tracer.start_as_current_span("invoke_agent bench", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "bench",
            "user.id": f"user-{n % 7}"}):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}) as llm:
            llm.set_attribute("gen_ai.usage.input_tokens", 100)
            llm.set_attribute("gen_ai.usage.output_tokens", 20)
        with tracer.start_as_current_span("execute_tool lookup", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup",
                "gen_ai.tool.call.id": f"call-{n}", "gen_ai.tool.call.arguments": '{"q": 1}'}):
            pass


def _per_span(tracer: Any, traces: int) -> float:
    start = time.perf_counter()
    for n in range(traces):
        _trace(tracer, n)
    return (time.perf_counter() - start) / (traces * SPANS_PER_TRACE)


def measure(quick: bool) -> list[Overhead]:
    """Seconds per span, uninstrumented vs recorded (agent thread; the writer drains after)."""
    traces = 200 if quick else 2000
    hooks.configure(fresh_settings("otel"), sequence=True)
    try:
        plain = TracerProvider(shutdown_on_exit=False).get_tracer("bench")
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(LedgerSpanProcessor())
        instrumented = provider.get_tracer("bench")
        _per_span(plain, 20)
        _per_span(instrumented, 20)  # warm both paths
        plain_s = _per_span(plain, traces)
        instrumented_s = _per_span(instrumented, traces)
        assert hooks.flush(600)
    finally:
        hooks.shutdown()
    return [Overhead("otel.span", plain_s, instrumented_s)]


if __name__ == "__main__":
    for o in measure("--quick" in sys.argv):
        print(f"{o.name}: plain {o.plain_s * 1e6:.1f} us, instrumented "
              f"{o.instrumented_s * 1e6:.1f} us ({o.instrumented_s / o.plain_s:.1f}x)")
