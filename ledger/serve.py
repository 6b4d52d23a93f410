"""`ledger serve`: the long-running sequencer for production deployments.

In embedded mode writers sequence opportunistically after each submit. With several agent
hosts writing to one external PostgreSQL, one `ledger serve` process (or several: advisory-lock
leadership makes extra ones wait) drains intake continuously so receipts become published
checkpoints within a few tens of milliseconds.
"""

from __future__ import annotations

import threading

import psycopg

from ledger.config import Settings
from ledger.store.sequencer import log_signer, sequence_batch

__all__ = ["serve"]


def serve(
    conn: psycopg.Connection,
    settings: Settings,
    stop: threading.Event | None = None,
    idle_sleep: float = 0.01,
) -> int:
    """Sequence until `stop` is set; returns the number of events sequenced."""
    signer = log_signer(settings)
    stop = stop or threading.Event()
    total = 0
    while not stop.is_set():
        batch = sequence_batch(conn, settings, signer)
        done = 0 if batch is None else batch.sequenced + batch.rejected + batch.duplicates
        total += 0 if batch is None else batch.sequenced
        if done == 0:
            stop.wait(idle_sleep)
    return total
