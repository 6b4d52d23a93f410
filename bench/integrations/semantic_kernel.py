"""Semantic Kernel: a kernel function call with the ledger's filters vs without, in one run.

    tests/envs/sk/.venv/bin/python -m bench.integrations.semantic_kernel [--quick]

Run it as a module from the repo (as a script, this file's name would shadow the package).
Needs the SK environment (`make tests/envs/sk/.venv/.synced`): semantic-kernel cannot share
the main one. Two calls are measured, each as the median of many in the same process:
- a native kernel function invoked directly (`kernel.invoke`): instrumented, its intent is
  recorded and acknowledged durable before it runs (one database round trip), then its outcome;
- one auto function calling turn of a prompt function with a scripted model (no network):
  prompt, two model calls with usage, one tool call with a durable intent.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatMessageContent, FunctionCallContent
from semantic_kernel.functions import KernelArguments, kernel_function

import ledger
from bench.common import discard, fresh_settings
from bench.integrations.common import Overhead
from ledger.hooks import configure, shutdown
from ledger.integrations.semantic_kernel import LedgerFilters


class _Tools:
    @kernel_function(description="Add two numbers.")
    def add(self, a: int, b: int) -> int:
        return a + b


class _Scripted(ChatCompletionClientBase):
    SUPPORTS_FUNCTION_CALLING: ClassVar[bool] = True

    async def _inner_get_chat_message_contents(self, chat_history: Any,
                                               settings: Any) -> list[ChatMessageContent]:
        usage = CompletionUsage(prompt_tokens=10, completion_tokens=5)
        if len(chat_history.messages) > 1:
            return [ChatMessageContent(role="assistant", content="3", metadata={"usage": usage})]
        call = FunctionCallContent(id="c1", name="math-add", arguments='{"a": 1, "b": 2}')
        return [ChatMessageContent(role="assistant", items=[call], metadata={"usage": usage})]


def _kernel(instrumented: bool) -> Kernel:
    kernel = Kernel()
    kernel.add_service(_Scripted(ai_model_id="gpt-4o-mini"))
    kernel.add_plugin(_Tools(), plugin_name="math")
    if instrumented:
        LedgerFilters(agent="bench-sk").install(kernel)
    return kernel


async def _median(call: Callable[[], Awaitable[Any]], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def _pair(name: str, n: int, make: Callable[[Kernel], Callable[[], Awaitable[Any]]]
                ) -> Overhead:
    plain, instrumented = make(_kernel(False)), make(_kernel(True))
    async with ledger.run(agent="bench-sk"):
        await plain()
        await instrumented()  # warm up both (imports, connections)
        return Overhead(name, await _median(plain, n), await _median(instrumented, n))


def measure(quick: bool) -> list[Overhead]:
    """SK function overhead: direct native function, and one auto function calling turn."""
    settings = fresh_settings("sk")
    configure(settings)
    n = 30 if quick else 300
    settings_auto = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())
    direct = _pair("semantic-kernel native function (kernel.invoke)", n,
                   lambda k: lambda: k.invoke(plugin_name="math", function_name="add", a=1, b=2))
    turn = _pair("semantic-kernel auto function calling turn", n,
                 lambda k: lambda: k.invoke_prompt(
                     "add 1 and 2", arguments=KernelArguments(settings=settings_auto)))
    try:
        return [asyncio.run(direct), asyncio.run(turn)]
    finally:
        shutdown()
        discard(settings)


if __name__ == "__main__":
    for o in measure("--quick" in sys.argv):
        print(f"{o.name}: plain {o.plain_s * 1e6:.0f} us, instrumented "
              f"{o.instrumented_s * 1e6:.0f} us, ratio {o.instrumented_s / o.plain_s:.1f}x")
