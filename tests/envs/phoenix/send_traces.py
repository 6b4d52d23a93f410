"""Send a scripted agent's traces to Phoenix with OpenInference instrumentation (OTLP/HTTP).

Runs in tests/envs/phoenix/.venv (arize-phoenix-otel, openinference-instrumentation): a
support agent whose model is scripted (fixed replies, fixed token counts) calls a refund tool,
for two users, so the importer test can assert exact events, tokens and attribution.
Usage: python send_traces.py ENDPOINT PROJECT [RUNS]  (RUNS > 0: that many more runs, for the
benchmark bench/bench_import.py; each is 4 spans)
"""

from __future__ import annotations

import json
import sys

from openinference.instrumentation import OITracer, TraceConfig, using_session, using_user
from openinference.semconv.trace import SpanAttributes
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

# Not `phoenix.otel.register`: importing `phoenix.otel` imports the whole `phoenix` package of
# the server (arize-phoenix shares the namespace), ~45 s here. The same OTLP/HTTP exporter and
# OpenInference tracer, set up by hand, start in about a second.
PROJECT_KEY = "openinference.project.name"


def scripted_model(tracer, prompt: str, reply: str, tokens: tuple[int, int]) -> str:
    with tracer.start_as_current_span("ChatModel", openinference_span_kind="llm") as span:
        span.set_input(prompt)
        span.set_attribute(SpanAttributes.LLM_MODEL_NAME, "scripted-1")
        span.set_attribute(SpanAttributes.LLM_PROVIDER, "scripted")
        span.set_attribute(SpanAttributes.LLM_TOKEN_COUNT_PROMPT, tokens[0])
        span.set_attribute(SpanAttributes.LLM_TOKEN_COUNT_COMPLETION, tokens[1])
        span.set_output(reply)
        span.set_status(Status(StatusCode.OK))
        return reply


def refund(tracer, order: str, amount: int, fail: bool) -> dict[str, object]:
    with tracer.start_as_current_span("refund", openinference_span_kind="tool") as span:
        span.set_tool(name="refund", parameters={"order": order, "amount": amount})
        span.set_attribute("tool_call.id", f"call-{order}")
        if fail:
            span.set_status(Status(StatusCode.ERROR, "card declined"))
            return {"ok": False}
        result = {"ok": True, "order": order}
        span.set_output(json.dumps(result))
        span.set_status(Status(StatusCode.OK))
        return result


def agent(tracer, user: str, order: str, fail: bool) -> str:
    with using_user(user), using_session(f"sess-{user}"):
        with tracer.start_as_current_span("support-agent", openinference_span_kind="agent") as s:
            s.set_input(f"refund {order}")
            scripted_model(tracer, f"refund {order}", "calling refund", (100, 10))
            refund(tracer, order, 40, fail)
            scripted_model(tracer, "tool said ok", "done", (50, 5))
            s.set_output("done")
            s.set_status(Status(StatusCode.ERROR if fail else StatusCode.OK))
            return format(s.get_span_context().trace_id, "032x")


def main() -> None:
    endpoint, project = sys.argv[1], sys.argv[2]
    provider = TracerProvider(resource=Resource({PROJECT_KEY: project}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint)))
    tracer = OITracer(provider.get_tracer("scripted-support-agent"), config=TraceConfig())
    traces = {"alice": agent(tracer, "alice", "A1", fail=False),
              "bob": agent(tracer, "bob", "B2", fail=True)}
    for n in range(int(sys.argv[3]) if len(sys.argv) > 3 else 0):
        agent(tracer, f"user-{n % 10}", f"O{n}", fail=False)
    provider.force_flush()
    provider.shutdown()
    print(json.dumps(traces))  # the test finds each user's run by its trace id


if __name__ == "__main__":
    main()
