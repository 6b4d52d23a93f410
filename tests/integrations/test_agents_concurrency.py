"""OpenAI Agents SDK: one Agent and one LedgerRunHooks shared by many concurrent runs.

Written as an app would: one agent, one hooks object, `Runner.run` per request under
`asyncio.gather`, each request in its own `ledger.run(user=...)`. The scripted model holds every
first model call until all runs are inside one, so the runs truly interleave. Each ledger run
must hold exactly its own two model calls and its own tool call: none lost, none linked to
another run's call, tokens and cost exact, and `ledger check` passing `capture.open_calls`.
Then the same from several processes at once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

from agents import Agent, Runner, function_tool

import ledger.hooks as hooks
from ledger.events import args_hash
from ledger.integrations.openai_agents import LedgerRunHooks

from .agents_scripted import IN, OUT, NamedPayModel, check
from .conftest import stored

REPO = Path(__file__).resolve().parents[2]
N = 12


@function_tool
def pay(to: str, amount: str) -> str:
    """Pay someone."""
    return f"paid {amount} to {to}"


async def _serve(agent: Agent[Any], run_hooks: LedgerRunHooks, n: int, tag: str) -> list[Any]:
    async def one(i: int) -> Any:
        async with hooks.run(agent="payer", user=f"{tag}user{i}") as run:
            result = await Runner.run(agent, f"pay {tag}p{i} {i}.00", hooks=run_hooks)
            assert result.final_output == "done"
        return run.run_id

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _serve_implicit(agent: Agent[Any], run_hooks: LedgerRunHooks, n: int,
                          tag: str) -> None:
    results = await asyncio.gather(*(
        Runner.run(agent, f"pay {tag}p{i} {i}.00", hooks=run_hooks) for i in range(n)))
    assert [r.final_output for r in results] == ["done"] * n


def assert_run(conn: Any, settings: Any, run_id: Any, user: str, who: str, amount: str) -> None:
    """Exactly this request's events, attributed to its user, with its own call ids."""
    events = stored(conn, run_id)
    types = [e.type for e in events]
    assert types == ["run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
                     "tool.call.ended", "llm.call.started", "llm.call.ended", "message.output",
                     "run.ended"], types
    assert {e.principal.initiating_user for e in events} == {user}
    started = [e for e in events if e.type == "llm.call.started"]
    ended = [e for e in events if e.type == "llm.call.ended"]
    assert [e.data.call_id for e in ended] == [e.data.call_id for e in started]
    assert [e.data.request_model for e in started] == ["gpt-4o-mini"] * 2
    for e in ended:
        assert (e.data.usage.input_tokens, e.data.usage.output_tokens) == (IN, OUT)
        assert e.data.cost.amount_usd == "0.000021"
    assert ended[0].data.proposed_tool_calls[0].tool_call_id == f"call_{who}"
    tool = next(e for e in events if e.type == "tool.call.started")
    done = next(e for e in events if e.type == "tool.call.ended")
    assert tool.data.tool_call_id == done.data.tool_call_id == f"call_{who}"
    assert tool.data.args_hash == args_hash({"to": who, "amount": amount})
    assert done.data.result == f"paid {amount} to {who}"
    totals = events[-1].data.totals
    assert (totals.llm_calls, totals.tool_calls, totals.input_tokens) == (2, 1, 2 * IN)
    assert str(totals.cost_usd) == "0.000042"
    verdicts = check(settings, run_id, settings.home)
    assert verdicts["capture.open_calls"] == "pass", verdicts
    assert verdicts["capture.run_ended"] == verdicts["max_tool_calls"] == "pass", verdicts


def test_concurrent_runs_share_one_agent_and_one_hooks(writer, ledger_conn, ledger_settings):
    agent = Agent(name="payer", tools=[pay], model=NamedPayModel(gate_size=N))
    run_hooks = LedgerRunHooks()
    run_ids = asyncio.run(_serve(agent, run_hooks, N, ""))
    assert len(set(run_ids)) == N
    assert writer.flush()
    for i, run_id in enumerate(run_ids):
        assert_run(ledger_conn, ledger_settings, run_id, f"user{i}", f"p{i}", f"{i}.00")


CHILD = textwrap.dedent("""
    import asyncio, sys
    from agents import Agent
    import ledger.hooks as hooks
    from ledger.integrations.openai_agents import LedgerRunHooks
    from tests.integrations.agents_scripted import NamedPayModel
    from tests.integrations.test_agents_concurrency import _serve, _serve_implicit, pay

    tag, n = sys.argv[1], int(sys.argv[2])
    hooks.configure(sequence=True, sequence_interval=0.0)
    agent = Agent(name="payer", tools=[pay], model=NamedPayModel(gate_size=n))
    if tag.startswith("implicit"):  # no ledger.run: an implicit run per SDK run
        asyncio.run(_serve_implicit(agent, LedgerRunHooks(user="svc"), n, tag))
    else:
        for run_id in asyncio.run(_serve(agent, LedgerRunHooks(), n, tag)):
            print(run_id, flush=True)
    assert hooks.flush(60)
    hooks.shutdown()
""")


def test_several_processes_share_the_ledger(writer, ledger_conn, ledger_settings):
    env = {**os.environ, "LEDGER_HOME": str(ledger_settings.home),
           "LEDGER_DSN": ledger_settings.dsn}
    procs = {tag: subprocess.Popen([sys.executable, "-c", CHILD, tag, "10"], cwd=REPO, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in ("a", "b", "implicitc")}
    for tag, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        if tag.startswith("implicit"):
            _assert_implicit(ledger_conn, ledger_settings, tag, 10)
            continue
        run_ids = [uuid.UUID(line) for line in out.split()]
        assert len(run_ids) == 10
        for i, run_id in enumerate(run_ids):
            assert_run(ledger_conn, ledger_settings, run_id, f"{tag}user{i}", f"{tag}p{i}",
                       f"{i}.00")


def test_concurrent_runs_outside_ledger_run_get_an_implicit_run_each(writer, ledger_conn,
                                                                    ledger_settings):
    """No `ledger.run`: each SDK run is its own implicit ledger run, none lost or mixed."""
    agent = Agent(name="payer", tools=[pay], model=NamedPayModel(gate_size=N))
    run_hooks = LedgerRunHooks(user="svc")

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(
            Runner.run(agent, f"pay p{i} {i}.00", hooks=run_hooks) for i in range(N))))

    results = asyncio.run(main())
    assert [r.final_output for r in results] == ["done"] * N
    assert writer.flush()
    _assert_implicit(ledger_conn, ledger_settings, "", N)


def _assert_implicit(conn: Any, settings: Any, tag: str, n: int) -> None:
    """Each of the n SDK runs of `tag` is one implicit run holding exactly its own calls."""
    rows = conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started'").fetchall()
    seen = set()
    for (run_id,) in rows:
        events = stored(conn, run_id)
        tool = next((e for e in events if e.type == "tool.call.started"), None)
        if tool is None or not tool.data.tool_call_id.startswith(f"call_{tag}p"):
            continue
        who = tool.data.tool_call_id.removeprefix("call_")
        seen.add(who)
        assert events[0].data.implicit is None  # a framework run, not a one-call implicit run
        assert events[0].correlation.trace_id is not None
        assert_run(conn, settings, run_id, "svc", who, f"{who.removeprefix(tag)[1:]}.00")
    assert seen == {f"{tag}p{i}" for i in range(n)}
