"""Review r17a: the continuity reads on a hung database (accepts TCP, never answers). With
events of this process still queued, `find_suspended` / `ledger.resume` / `open_run` used to
wait for the flush (up to LEDGER_ACK_TIMEOUT) and then for a read on a new connection (up to
~2.5 s more): 7+ s against the 5 s contract. A flush that does not complete already means the
head cannot be read as this process left it: fail closed at once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import ledger
from ledger.hooks.continuity import open_run
from ledger.hooks.setup import ack_timeout
from ledger.hooks.writer import Writer

from .tcpproxy import TcpProxy
from .test_failclosed_timeouts import proxied, proxy

__all__ = ["proxied", "proxy"]


def _elapsed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    with pytest.raises(ledger.LedgerUnavailable):
        call()
    return time.monotonic() - started


def test_continuity_reads_fail_closed_within_the_ack_timeout_on_a_hung_database(
        proxied: Writer, proxy: TcpProxy) -> None:
    assert ack_timeout() == 5.0
    with ledger.run(agent="graph", user="ann") as waiting:
        waiting.suspend("interrupt", resume_key="k:hung")
    assert proxied.flush()
    with ledger.run(agent="other", user="bob") as busy:
        busy.flush()
        proxy.hang()
        calls: dict[str, Callable[[], object]] = {
            "find_suspended": lambda: ledger.find_suspended("k:hung"),
            "resume": lambda: ledger.resume(waiting.run_id),
            "open_run": lambda: open_run("k:hung", agent="graph"),
        }
        for name, call in calls.items():
            busy.llm_call(model="gpt-4o", input_tokens=1, output_tokens=1)  # queued, not durable
            elapsed = _elapsed(call)
            assert elapsed < 6.0, f"{name} waited {elapsed:.1f} s on a hung database (5 s bound)"
        proxy.recover()
