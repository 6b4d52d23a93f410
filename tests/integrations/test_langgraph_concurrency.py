"""Many graph runs at once through ONE handler and ONE compiled agent, each with its own thread
and user, each interrupted and resumed: nothing is attributed to another run (threads, asyncio
tasks, and several processes writing to the same ledger)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

import ledger
from ledger.integrations.langchain import LedgerCallbackHandler
from ledger.store.sequencer import try_sequence

from .conftest import stored
from .langgraph_kit import assert_approved_refund, refund_agent

N = 12
REPO = Path(__file__).resolve().parents[2]


def test_threads_share_one_handler_and_one_graph(writer, ledger_conn):
    agent, handler = refund_agent(), LedgerCallbackHandler()

    def one(i: int) -> Any:
        config: Any = {"configurable": {"thread_id": f"t{i}"}, "callbacks": [handler]}
        with ledger.run(agent="lg-many", user=f"user{i}") as run:
            agent.invoke({"messages": [HumanMessage(f"refund order {i}")]}, config)
            command = handler.resume(True, approver=f"boss{i}", thread_id=f"t{i}")
            final = agent.invoke(command, config)
        assert final["messages"][-1].content == f"done: refunded {i}"
        return run.run_id

    with ThreadPoolExecutor(N) as pool:
        run_ids = list(pool.map(one, range(N)))
    assert writer.flush() and not handler.pending
    for i, run_id in enumerate(run_ids):
        assert_approved_refund(stored(ledger_conn, run_id), user=f"user{i}", order=str(i),
                               approver=f"boss{i}")


def test_asyncio_tasks_share_one_handler_and_one_graph(writer, ledger_conn):
    agent, handler = refund_agent(), LedgerCallbackHandler()

    async def one(i: int) -> Any:
        config: Any = {"configurable": {"thread_id": f"a{i}"}, "callbacks": [handler]}
        async with ledger.run(agent="lg-many-async", user=f"user{i}") as run:
            await agent.ainvoke({"messages": [HumanMessage(f"refund order {i}")]}, config)
            command = handler.resume(True, approver=f"boss{i}", thread_id=f"a{i}")
            final = await agent.ainvoke(command, config)
        assert final["messages"][-1].content == f"done: refunded {i}"
        return run.run_id

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(one(i) for i in range(N))))

    run_ids = asyncio.run(main())
    assert writer.flush() and not handler.pending
    for i, run_id in enumerate(run_ids):
        assert_approved_refund(stored(ledger_conn, run_id), user=f"user{i}", order=str(i),
                               approver=f"boss{i}")


def test_processes_write_at_once(writer, ledger_conn, ledger_settings):
    env = {**os.environ, "LEDGER_DSN": ledger_settings.dsn or "",
           "LEDGER_HOME": str(ledger_settings.home), "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "tests.integrations.langgraph_proc", "approve", f"p{i}",
         str(100 + i)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i in range(4)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [o[1][-2000:] for o in outs]
    try_sequence(ledger_conn, ledger_settings, wait=True)  # the processes' intake, in order
    for i, (out, _) in enumerate(outs):
        run_id = out.strip().splitlines()[-1]
        assert_approved_refund(stored(ledger_conn, run_id), user=f"p{i}", order=str(100 + i),
                               approver=f"boss-p{i}")
