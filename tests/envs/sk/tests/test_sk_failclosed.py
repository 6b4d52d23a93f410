"""Fail closed: with the ledger's database unreachable, no function runs unrecorded; the
caller gets `LedgerUnavailable` (behind SK's `KernelInvokeException`) instead."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from semantic_kernel.exceptions import KernelInvokeException

import ledger
from ledger.config import Settings
from ledger.hooks import configure, shutdown
from ledger.integrations.semantic_kernel import LedgerFilters

from .skkit import BODIES, auto, kernel


@pytest.fixture
def down_writer(tmp_path) -> Iterator[None]:
    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    configure(Settings(home=tmp_path / "home",
                       dsn=f"host=127.0.0.1 port={port} user=x dbname=x connect_timeout=1"),
              retry_interval=0.05)
    yield
    shutdown(timeout=1)


async def test_no_function_runs_when_its_intent_cannot_be_recorded(down_writer):
    BODIES.clear()
    k = kernel()
    LedgerFilters().install(k)
    with pytest.raises(KernelInvokeException) as raised:
        async with ledger.run(agent="sk-down", user="erin"):
            await k.invoke(plugin_name="billing", function_name="refund",
                           order_id="D1", amount_usd=5)
    cause = raised.value.__cause__
    assert isinstance(cause, ledger.LedgerUnavailable), repr(cause)
    assert BODIES == []
    # a call the model proposes stops the invocation the same way, before any tool runs
    with pytest.raises(KernelInvokeException) as raised:
        await k.invoke_prompt("{{$input}}", arguments=auto() | {"input": "refund order D2"})
    assert BODIES == []
    assert any(isinstance(e, ledger.LedgerUnavailable) for e in _chain(raised.value))


def _chain(exc: BaseException | None) -> list[BaseException]:
    out = []
    while exc is not None:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out
