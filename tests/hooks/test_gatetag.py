"""`ledger.gate_task`: every run started inside is tagged as the attempt and collected.

Real writer, real database, real LangChain handler (its own runs go through the same Run),
real threads and asyncio tasks: the tag must follow the agent and never leak across attempts.
"""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

import ledger
import ledger.hooks as hooks
from ledger.hooks.writer import Writer
from ledger.integrations.langchain import LedgerCallbackHandler

from .conftest import stored

HASH = "ab" * 32


def _gate(ledger_conn: Any, run_id: Any) -> Any:
    started = stored(ledger_conn, run_id)[0]
    assert started.type == "run.started"
    return started.data.attributes.get("gate")


def test_runs_inside_are_tagged_and_collected(writer: Writer, ledger_conn: Any) -> None:
    with ledger.gate_task("demo", "renewal", 2, label="v5", suite_hash=HASH) as attempt:
        with hooks.run(agent="a", attributes={"team": "x"}) as first:
            pass
        with hooks.run(agent="a") as second:
            pass
    with hooks.run(agent="a") as outside:
        pass
    assert attempt.run_ids == (first.run_id, second.run_id)
    writer.flush()
    tag = {"suite": "demo", "task": "renewal", "attempt": 2, "label": "v5", "suite_hash": HASH}
    assert _gate(ledger_conn, first.run_id) == tag
    assert stored(ledger_conn, first.run_id)[0].data.attributes["team"] == "x"
    assert _gate(ledger_conn, second.run_id) == tag
    assert _gate(ledger_conn, outside.run_id) is None


def test_nested_innermost_wins(writer: Writer, ledger_conn: Any) -> None:
    with ledger.gate_task("outer", "t", 1) as outer:
        with ledger.gate_task("inner", "t", 3, label=None) as inner:
            with hooks.run(agent="a") as run:
                pass
        with hooks.run(agent="a") as after:
            pass
    assert inner.run_ids == (run.run_id,) and outer.run_ids == (after.run_id,)
    writer.flush()
    assert _gate(ledger_conn, run.run_id)["suite"] == "inner"
    assert _gate(ledger_conn, run.run_id)["label"] is None
    assert _gate(ledger_conn, after.run_id)["suite"] == "outer"


def test_threads_and_tasks_keep_their_own_attempt(writer: Writer, ledger_conn: Any) -> None:
    """Concurrent attempts in threads and in asyncio tasks: each run carries its own tag; a
    copied context (a thread pool) carries the attempt into the worker thread."""
    results: dict[int, tuple[Any, Any]] = {}
    barrier = threading.Barrier(4)

    def attempt(n: int) -> None:
        with ledger.gate_task("s", "threads", n) as tag:
            barrier.wait(timeout=10)
            with hooks.run(agent="a") as run:
                pass
        results[n] = (tag, run.run_id)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    async def one(n: int) -> Any:
        async with ledger.gate_task("s", "tasks", n) as tag:
            await asyncio.sleep(0)
            async with hooks.run(agent="a") as run:
                await asyncio.sleep(0)
        return tag, run.run_id

    async def many() -> list[Any]:
        return list(await asyncio.gather(*(one(n) for n in range(1, 5))))

    tasks = asyncio.run(many())
    with ledger.gate_task("s", "pool", 1) as pooled, ThreadPoolExecutor(1) as pool:
        ctx = contextvars.copy_context()
        in_pool = pool.submit(ctx.run, lambda: hooks.run(agent="a").start()).result()
        in_pool.end()
    writer.flush()
    for n, (tag, run_id) in results.items():
        assert tag.run_ids == (run_id,)
        assert _gate(ledger_conn, run_id)["attempt"] == n
    for n, (tag, run_id) in enumerate(tasks, start=1):
        assert tag.run_ids == (run_id,)
        assert _gate(ledger_conn, run_id) == {"suite": "s", "task": "tasks", "attempt": n,
                                               "label": None, "suite_hash": None}
    assert pooled.run_ids == (in_pool.run_id,)
    assert _gate(ledger_conn, in_pool.run_id)["task"] == "pool"


def test_integration_runs_are_tagged(writer: Writer, ledger_conn: Any) -> None:
    """A framework integration opens its own run (LangChain handler, no ledger.run around it):
    it goes through the same Run, so it is tagged too."""
    model = GenericFakeChatModel(messages=iter([AIMessage(
        content="hi", response_metadata={"model_name": "gpt-4o-mini"})]))
    handler = LedgerCallbackHandler(agent="lc-owned")
    with ledger.gate_task("lc", "hello", 1, label="cand") as tag:
        model.invoke([HumanMessage("hello")], config={"callbacks": [handler]})
    writer.flush()
    assert len(tag.run_ids) == 1
    gate = _gate(ledger_conn, tag.run_ids[0])
    assert gate["suite"] == "lc" and gate["label"] == "cand"
    assert stored(ledger_conn, tag.run_ids[0])[0].agent.name == "lc-owned"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"suite": "", "task": "t", "attempt": 1}, "suite must be a non-empty string"),
    ({"suite": "s", "task": "t", "attempt": 0}, "attempt must be an integer >= 1"),
    ({"suite": "s", "task": "t", "attempt": True}, "attempt must be an integer >= 1"),
    ({"suite": "s", "task": "t", "attempt": 1, "suite_hash": "XYZ"}, "suite_hash must be 64"),
    ({"suite": "s", "task": "t", "attempt": 1, "label": 5}, "label must be a non-empty"),
])
def test_bad_tags_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ledger.gate_task(**kwargs)


def test_import_ledger_stays_cheap() -> None:
    """`ledger.gate_task` is a lazy export: `import ledger` loads no hooks at all."""
    code = ("import sys, ledger; assert 'ledger.hooks' not in sys.modules; "
            "g = ledger.gate_task; assert 'ledger.hooks.writer' not in sys.modules; "
            "print(g.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "ledger.hooks.gatetag"
