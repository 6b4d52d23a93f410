"""OpenAI Agents SDK: the cost of `LedgerRunHooks` per model call, against the same run plain.

A scripted model (no network) answers at once, so a `Runner.run` is one model call and the
ratio is the SDK's own work against the SDK's work plus recording `llm.call.started/ended`
(with usage and cost) inside a `ledger.run`. The ledger must be configured by the caller
(`ledger.hooks.configure(...)`, as bench/bench_integrations.py does); recording is
asynchronous, so the flush after the loop is outside the timing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agents import Agent, Runner
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

import ledger.hooks as hooks
from bench.integrations.common import Overhead
from ledger.integrations.openai_agents import LedgerRunHooks

__all__ = ["measure"]


class _Answer(Model):
    model = "gpt-4o-mini"

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return ModelResponse(output=[ResponseOutputMessage(
            id="m1", type="message", role="assistant", status="completed",
            content=[ResponseOutputText(type="output_text", text="ok", annotations=[])])],
            response_id=None, usage=Usage(requests=1, input_tokens=100, output_tokens=10,
                                          total_tokens=110))

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


async def _loop(agent: Agent[Any], n: int, run_hooks: LedgerRunHooks | None) -> float:
    start = time.perf_counter()
    if run_hooks is None:
        for _ in range(n):
            await Runner.run(agent, "hi")
    else:
        async with hooks.run(agent="bench-openai-agents"):
            for _ in range(n):
                await Runner.run(agent, "hi", hooks=run_hooks)
    return (time.perf_counter() - start) / n


def measure(quick: bool) -> list[Overhead]:
    """Seconds per `Runner.run` (one model call), plain and with LedgerRunHooks."""
    n = 50 if quick else 500
    agent = Agent(name="bench", model=_Answer())
    from agents import set_tracing_disabled

    set_tracing_disabled(True)  # both sides alike: no exporter in the measurement
    try:
        asyncio.run(_loop(agent, 5, None))  # warm-up
        plain = asyncio.run(_loop(agent, n, None))
        instrumented = asyncio.run(_loop(agent, n, LedgerRunHooks()))
    finally:
        set_tracing_disabled(False)
    hooks.flush(60)
    return [Overhead("openai-agents model call", plain, instrumented)]


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    from ledger.config import Settings

    with tempfile.TemporaryDirectory() as home:
        hooks.configure(Settings.from_env(home=Path(home)))
        for o in measure(quick=True):
            print(f"{o.name}: plain {o.plain_s * 1e6:.0f} us, ledger "
                  f"{o.instrumented_s * 1e6:.0f} us, x{o.instrumented_s / o.plain_s:.2f}")
        hooks.shutdown()
