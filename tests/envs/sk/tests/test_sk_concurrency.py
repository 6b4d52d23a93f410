"""Many invocations at once: one Kernel and one LedgerFilters object shared by 12 concurrent
invocations in one process, and three processes each with their own; every run complete and
attributed to its own invocation (no call counted in another run)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import ledger
from ledger.integrations.semantic_kernel import LedgerFilters
from ledger.store.sequencer import try_sequence

from .skkit import all_runs, assert_refund_run, auto, check, kernel

N = 12
ROOT = Path(__file__).resolve().parents[4]  # the repo: the worker is tests.envs.sk...


async def test_concurrent_runs_share_one_kernel_and_filter(writer, ledger_conn, ledger_settings):
    k = kernel()
    LedgerFilters().install(k)

    async def one(n: int) -> None:
        async with ledger.run(agent="sk-many", user=f"u{n}"):
            await k.invoke_prompt("{{$input}}", arguments=auto() | {"input": f"refund order C{n}"})

    await asyncio.gather(*[one(n) for n in range(N)])
    assert writer.flush()
    runs = all_runs(ledger_conn)
    assert sorted(runs) == sorted(f"C{n}" for n in range(N))
    for n in range(N):
        assert_refund_run(runs[f"C{n}"], f"C{n}", f"u{n}")
    code, verdicts = check(ledger_settings, runs["C0"][0].run_id)
    assert code == 0, verdicts


async def test_outside_a_run_each_invocation_gets_its_own_run(writer, ledger_conn):
    k = kernel()
    LedgerFilters(agent="sk-implicit", user="dana").install(k)
    await asyncio.gather(*[
        k.invoke_prompt("{{$input}}", arguments=auto() | {"input": f"refund order I{n}"})
        for n in range(N)])
    assert writer.flush()
    runs = all_runs(ledger_conn)
    assert sorted(runs) == sorted(f"I{n}" for n in range(N))
    for n in range(N):
        assert_refund_run(runs[f"I{n}"], f"I{n}", "dana")
        assert runs[f"I{n}"][0].agent.name == "sk-implicit"


def test_several_processes(ledger_conn, ledger_settings, tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "tests.envs.sk.tests.sk_worker",
                               ledger_settings.dsn or "", str(tmp_path / f"home{p}"), f"P{p}",
                               "4"], cwd=ROOT) for p in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    try_sequence(ledger_conn, ledger_settings, wait=True)
    runs = all_runs(ledger_conn)
    expected = [f"P{p}x{n}" for p in range(3) for n in range(4)]
    assert sorted(runs) == sorted(expected)
    for order in expected:
        assert_refund_run(runs[order], order, f"user-{order.split('x')[0]}")
