"""OpenAI Agents SDK outside `ledger.run(...)`: an implicit run per SDK run, interrupted for an
approval in one process and resumed from the serialized RunState in another.

Written as a web app would: process A runs the agent with `LedgerRunHooks()` (no ledger.run),
records the interruption (the ledger run is suspended, not ended) and stores
`result.to_state().to_string()`; process B, with a new hooks object, reads the state back,
approves, and runs it to the end. One ledger run holds it all, its chain continued from the
head read from the ledger.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

from ledger.events import args_hash

from .agents_scripted import IN, OUT, check
from .conftest import stored

REPO = Path(__file__).resolve().parents[2]

COMMON = """
    import asyncio, sys
    from agents import Agent, Runner, function_tool
    from agents.run_state import RunState
    import ledger
    from ledger.integrations.openai_agents import (LedgerRunHooks, approve,
                                                   record_interruptions)
    from tests.integrations.agents_scripted import NamedPayModel

    ledger.hooks.configure(sequence=True, sequence_interval=0.0)

    @function_tool(needs_approval=True)
    def pay(to: str, amount: str) -> str:
        \"\"\"Pay someone.\"\"\"
        return f"paid {amount} to {to}"

    agent = Agent(name="payer", tools=[pay], model=NamedPayModel())
"""

FIRST = COMMON + """
    async def main() -> None:
        hooks = LedgerRunHooks(user="alice")
        result = await Runner.run(agent, "pay bob 900", hooks=hooks)
        (approval,) = record_interruptions(result)
        print(approval.run_id, approval.approval_id, flush=True)
        print(result.to_state().to_string(), flush=True)

    asyncio.run(main())
    assert ledger.hooks.flush(60)
"""

SECOND = COMMON + """
    async def main() -> None:
        state = await RunState.from_string(agent, sys.stdin.read())
        approve(state, state.get_interruptions()[0], approver="carol", roles=["finance"])
        final = await Runner.run(agent, state, hooks=LedgerRunHooks(user="alice"))
        print(final.final_output, flush=True)

    asyncio.run(main())
    assert ledger.hooks.flush(60)
"""


def _python(script: str, env: dict[str, str], stdin: str = "") -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], input=stdin,
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_interrupt_in_one_process_resume_in_another(writer, ledger_conn, ledger_settings):
    env = {**os.environ, "LEDGER_HOME": str(ledger_settings.home),
           "LEDGER_DSN": ledger_settings.dsn}
    first, state = _python(FIRST, env).split("\n", 1)
    run_id, approval_id = first.split()
    events = stored(ledger_conn, uuid.UUID(run_id))
    assert [e.type for e in events] == ["run.started", "llm.call.started", "llm.call.ended",
                                        "approval.requested", "run.suspended"]
    assert list(events[-1].data.pending_approvals) == [approval_id]

    assert _python(SECOND, env, state).strip() == "done"
    events = stored(ledger_conn, uuid.UUID(run_id))
    types = [e.type for e in events]
    assert types == ["run.started", "llm.call.started", "llm.call.ended", "approval.requested",
                     "run.suspended", "run.resumed", "approval.decided", "tool.call.started",
                     "tool.call.ended", "llm.call.started", "llm.call.ended", "message.output",
                     "run.ended"], types
    assert [e.run_seq for e in events] == list(range(len(events)))
    assert {e.principal.initiating_user for e in events} == {"alice"}
    req, dec, start = (next(e for e in events if e.type == t) for t in (
        "approval.requested", "approval.decided", "tool.call.started"))
    assert req.data.tool_call_id == dec.data.tool_call_id == start.data.tool_call_id == "call_bob"
    assert req.data.args_hash == start.data.args_hash == args_hash({"to": "bob", "amount": "900"})
    assert str(dec.data.approval_id) == approval_id and dec.data.approver.id == "carol"
    ended = events[-1].data
    assert ended.status == "succeeded" and ended.event_count == len(events)
    assert (ended.totals.llm_calls, ended.totals.tool_calls) == (2, 1)
    assert (ended.totals.input_tokens, ended.totals.output_tokens) == (2 * IN, 2 * OUT)
    assert str(ended.totals.cost_usd) == "0.000042"
    verdicts = check(ledger_settings, run_id, ledger_settings.home)
    assert verdicts["capture.open_calls"] == verdicts["capture.run_ended"] == "pass", verdicts


def test_same_process_with_the_tracing_processor(writer, ledger_conn, ledger_settings):
    """The documented set-up (hooks + processor), outside ledger.run: the processor's agent
    spans join the implicit run, which is suspended, resumed and ended once, from a stored
    state with a new hooks object."""
    import asyncio

    from agents import Agent, Runner, function_tool, set_trace_processors
    from agents.run_state import RunState

    from ledger.integrations.openai_agents import (
        LedgerRunHooks,
        LedgerTracingProcessor,
        approve,
        record_interruptions,
    )

    from .agents_scripted import NamedPayModel

    @function_tool(needs_approval=True)
    def pay(to: str, amount: str) -> str:
        """Pay someone."""
        return f"paid {amount} to {to}"

    agent = Agent(name="payer", tools=[pay], model=NamedPayModel())

    async def ask() -> tuple[Any, str]:
        first = await Runner.run(agent, "pay bob 900", hooks=LedgerRunHooks(user="alice"))
        (approval,) = record_interruptions(first)
        return approval.run_id, first.to_state().to_string()

    async def decide(stored_state: str) -> str:
        state = await RunState.from_string(agent, stored_state)
        approve(state, state.get_interruptions()[0], approver="carol", roles=["finance"])
        final = await Runner.run(agent, state, hooks=LedgerRunHooks(user="alice"))
        return str(final.final_output)

    set_trace_processors([LedgerTracingProcessor()])
    try:
        run_id, stored_state = asyncio.run(ask())
        assert asyncio.run(decide(stored_state)) == "done"
    finally:
        set_trace_processors([])
    assert writer.flush()
    events = stored(ledger_conn, run_id)
    names = [e.data.name if e.type == "custom" else e.type for e in events]
    assert names == ["run.started", "llm.call.started", "llm.call.ended",
                     "openai_agents.agent", "approval.requested", "run.suspended",
                     "run.resumed", "approval.decided", "tool.call.started", "tool.call.ended",
                     "llm.call.started", "llm.call.ended", "message.output",
                     "openai_agents.agent", "run.ended"], names
    assert ledger_conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'run.started'").fetchone()[0] == 1
    assert events[-1].data.status == "succeeded"
    assert events[-1].data.event_count == len(events)
    verdicts = check(ledger_settings, run_id, ledger_settings.home)
    assert verdicts["capture.open_calls"] == verdicts["capture.run_ended"] == "pass", verdicts


def test_reject_outside_a_run_records_the_decision_and_no_tool_call(writer, ledger_conn,
                                                                    ledger_settings):
    """A rejection resumes the same run: decided `rejected`, the tool never runs, the model
    reads the rejection and answers; one run, ended."""
    import asyncio

    from agents import Agent, Runner, function_tool

    from ledger.integrations.openai_agents import LedgerRunHooks, record_interruptions, reject

    from .agents_scripted import NamedPayModel

    paid: list[str] = []

    @function_tool(needs_approval=True)
    def pay(to: str, amount: str) -> str:
        """Pay someone."""
        paid.append(to)
        return "paid"

    agent = Agent(name="payer", tools=[pay], model=NamedPayModel())

    async def main() -> Any:
        hooks = LedgerRunHooks(user="alice")
        first = await Runner.run(agent, "pay bob 900", hooks=hooks)
        (approval,) = record_interruptions(first)
        state = first.to_state()
        reject(state, first.interruptions[0], approver="carol", message="not today")
        final = await Runner.run(agent, state, hooks=hooks)
        assert final.final_output == "done"
        return approval.run_id

    run_id = asyncio.run(main())
    assert paid == []
    assert writer.flush()
    events = stored(ledger_conn, run_id)
    types = [e.type for e in events]
    assert types == ["run.started", "llm.call.started", "llm.call.ended", "approval.requested",
                     "run.suspended", "run.resumed", "approval.decided", "llm.call.started",
                     "llm.call.ended", "message.output", "run.ended"], types
    dec = events[6].data
    assert dec.decision == "rejected" and dec.reason == "not today"
    assert dec.tool_call_id == "call_bob" and dec.approver.id == "carol"
    assert events[-1].data.totals.tool_calls == 0
    verdicts = check(ledger_settings, run_id, ledger_settings.home)
    assert verdicts["capture.open_calls"] == verdicts["capture.run_ended"] == "pass", verdicts
