"""A worker process for the multi-process test: `python -m tests.integrations.temporal.worker_proc
ADDRESS QUEUE DSN HOME`. Runs one Temporal worker with the ledger plugin until stdin closes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.integrations.temporal import LedgerPlugin

from .flows import Spread, whoami


async def main(address: str, queue: str) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=queue, workflows=[Spread], activities=[whoami],
                      plugins=[LedgerPlugin(agent="spread")]):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.read)  # until the test closes our stdin


if __name__ == "__main__":
    address, queue, dsn, home = sys.argv[1:5]
    hooks.configure(Settings(home=Path(home), dsn=dsn), sequence=True)
    try:
        asyncio.run(main(address, queue))
    finally:
        hooks.shutdown()
