"""One agent process of the multi-process test: N concurrent invocations of one Kernel with
one LedgerFilters object, outside any `ledger.run` (each invocation its own implicit run)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ledger.config import Settings
from ledger.hooks import configure, shutdown
from ledger.integrations.semantic_kernel import LedgerFilters

from .skkit import auto, kernel


async def main(tag: str, count: int) -> None:
    k = kernel()
    LedgerFilters(agent="sk-proc", user=f"user-{tag}").install(k)
    await asyncio.gather(*[
        k.invoke_prompt("{{$input}}", arguments=auto() | {"input": f"refund order {tag}x{n}"})
        for n in range(count)])


if __name__ == "__main__":
    dsn, home, tag, count = sys.argv[1:5]
    # intake only: the test's process sequences (one log key, in the test's home)
    configure(Settings(home=Path(home), dsn=dsn), sequence=False)
    asyncio.run(main(tag, int(count)))
    shutdown()
