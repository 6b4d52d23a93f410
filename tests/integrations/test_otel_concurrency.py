"""OTel outside `ledger.run`: a run per trace, with no cross-attribution when many traces run at
once through ONE processor (threads), in several processes, and with the database away."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

import ledger.hooks as hooks
from ledger.integrations.otel import LedgerSpanProcessor
from ledger.store.sequencer import try_sequence

from .conftest import stored
from .test_otel_fidelity import runs_by_trace

REPO = Path(__file__).resolve().parents[2]
THREADS = 12


def agent_trace(tracer: Any, n: int, barrier: threading.Barrier | None = None) -> str:
    """One user's agent turn: a model call proposing a tool call, then the tool call."""
    with tracer.start_as_current_span(f"invoke_agent agent-{n}", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": f"agent-{n}",
            "user.id": f"user-{n}"}) as root:
        if barrier is not None:
            barrier.wait(timeout=60)  # every trace is open at the same time
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}) as llm:
            llm.set_attribute("gen_ai.usage.input_tokens", 10 + n)
            llm.set_attribute("gen_ai.usage.output_tokens", 5)
        with tracer.start_as_current_span("execute_tool refund", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund",
                "gen_ai.tool.call.id": f"call-{n}",
                "gen_ai.tool.call.arguments": f'{{"order": {n}}}'}):
            pass
    return format(root.get_span_context().trace_id, "032x")


def assert_attributed(conn: Any, traces: dict[str, int]) -> None:
    """Each trace is its own run, wholly its user's, with its own call ids and arguments."""
    by_trace = runs_by_trace(conn)
    assert len({by_trace[t] for t in traces}) == len(traces)
    for trace, n in traces.items():
        events = stored(conn, by_trace[trace])
        assert [e.type for e in events] == ["run.started", "llm.call.started", "llm.call.ended",
                                            "tool.call.started", "tool.call.ended", "run.ended"]
        assert {e.principal.initiating_user for e in events} == {f"user-{n}"}
        assert {e.agent.name for e in events} == {f"agent-{n}"}
        assert events[2].data.usage.input_tokens == 10 + n
        assert events[3].data.tool_call_id == f"call-{n}" and events[3].data.args == {"order": n}
        assert events[4].data.tool_call_id == f"call-{n}" and events[4].data.status == "ok"
        assert events[-1].data.status == "succeeded" and events[-1].data.event_count == 6
        assert events[-1].data.totals.tool_calls == 1 and events[-1].data.totals.llm_calls == 1


def test_concurrent_traces_through_one_processor(writer, ledger_conn):
    processor = LedgerSpanProcessor(user="default-user")
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    barrier = threading.Barrier(THREADS)
    traces: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            traces[agent_trace(tracer, n, barrier)] = n
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(traces) == THREADS
    processor.force_flush()
    assert_attributed(ledger_conn, traces)


CHILD = """
import sys, threading
from pathlib import Path
from opentelemetry.sdk.trace import TracerProvider
import ledger.hooks as hooks
from ledger.config import Settings
import ledger.hooks as hooks
from ledger.integrations.otel import LedgerSpanProcessor
from tests.integrations.test_otel_concurrency import agent_trace

hooks.configure(Settings(home=Path(sys.argv[1]), dsn=sys.argv[2]), sequence=True)
processor = LedgerSpanProcessor()
provider = TracerProvider(shutdown_on_exit=False)
provider.add_span_processor(processor)
tracer = provider.get_tracer("child")
base = int(sys.argv[3])
barrier = threading.Barrier(4)
out = {}
threads = [threading.Thread(target=lambda n=n: out.update({agent_trace(tracer, n, barrier): n}))
           for n in range(base, base + 4)]
[t.start() for t in threads]
[t.join(120) for t in threads]
assert hooks.flush(60)
hooks.shutdown()
for trace, n in out.items():
    print(trace, n)
"""


def test_traces_from_several_processes(writer, ledger_conn, ledger_settings):
    procs = [subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(ledger_settings.home),
         ledger_settings.dsn, str(100 * (i + 1))],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}) for i in range(3)]
    traces: dict[str, int] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        traces.update({line.split()[0]: int(line.split()[1]) for line in out.splitlines()})
    assert len(traces) == 12
    try_sequence(ledger_conn, ledger_settings, wait=True)  # whatever the children left in intake
    assert_attributed(ledger_conn, traces)


def test_database_away_spans_are_kept_and_delivered(writer, flaky, ledger_conn):
    processor = LedgerSpanProcessor()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    flaky.go_down()
    traces = {agent_trace(tracer, n): n for n in range(3)}  # the agent is never broken
    flaky.come_back()
    assert writer.flush(60)
    assert_attributed(ledger_conn, traces)


def test_concurrent_ledger_runs_share_one_processor(writer, ledger_conn):
    """Inside `ledger.run(...)` each thread's spans join that thread's run, never another's."""
    processor = LedgerSpanProcessor(user="default-user")
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    barrier = threading.Barrier(THREADS)
    runs: dict[Any, int] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with hooks.run(agent=f"agent-{n}", user=f"user-{n}") as run:
                agent_trace(tracer, n, barrier)
            runs[run.run_id] = n
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(runs) == THREADS
    assert writer.flush()
    for run_id, n in runs.items():
        events = stored(ledger_conn, run_id)
        assert [e.type for e in events] == [
            "run.started", "custom", "llm.call.started", "llm.call.ended", "tool.call.started",
            "tool.call.ended", "custom", "run.ended"]  # the agent span is a custom pair
        assert {e.principal.initiating_user for e in events} == {f"user-{n}"}
        assert events[3].data.usage.input_tokens == 10 + n
        assert events[4].data.tool_call_id == f"call-{n}" and events[4].data.args == {"order": n}
        assert events[-1].data.totals.tool_calls == 1
