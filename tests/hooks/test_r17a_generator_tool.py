"""Review r17a: `@ledger.tool` on a generator (or async generator) function. Calling one only
builds the generator: the body runs later, while the caller iterates, after the wrapper had
recorded the call `ok` (result: the generator object) and, outside any run, ended its
implicit run. The record said the tool succeeded before it ran, and its errors were never
recorded. Refused loudly at decoration instead, with a one-line reason."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import ledger


def test_a_generator_tool_is_refused_at_decoration() -> None:
    def rows(n: int) -> Iterator[int]:
        yield from range(n)

    async def arows(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    for fn in (rows, arows):
        with pytest.raises(TypeError, match="generator"):
            ledger.tool(fn)
        with pytest.raises(TypeError, match="generator"):
            ledger.tool(side_effect=False)(fn)
