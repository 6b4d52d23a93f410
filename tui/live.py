"""The live loop's two ways of hearing about appends: LISTEN on the primary, or polling sizes.

Why its own module: a PostgreSQL hot standby cannot LISTEN (notifications are not replicated
and LISTEN is refused in recovery), so a TUI that reads from a replica (`LEDGER_READ_DSN`)
LISTENs on the primary when it can reach it and otherwise polls the replica's log sizes every
POLL_SECONDS (shown in the header). A notification from the primary names a size the replica
may not have replayed yet: `await_replica` holds it back until the replica has it (bounded), so
the screens' re-read from the replica shows what was announced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
from textual.message import Message

from tui.data import LedgerData, origin_sizes
from tui.messages import LedgerAppended

__all__ = ["POLL_SECONDS", "REPLAY_WAIT_SECONDS", "REPLICA_RETRY_SECONDS", "await_replica",
           "poll"]

#: How often sizes are read when LISTEN is not possible (a hot standby refuses it).
POLL_SECONDS = 2.0
#: Longest wait for the replica to replay what a primary's notification announced.
REPLAY_WAIT_SECONDS = 5.0
#: While polling a replica because the primary is unreachable, how often LISTEN is tried again.
REPLICA_RETRY_SECONDS = 30.0


def poll(
    conn: psycopg.Connection,
    keep_going: Callable[[], bool],
    post: Callable[[Message], object],
    stop: threading.Event,
    *,
    every: float = POLL_SECONDS,
    seconds: float | None = None,
) -> None:
    """Read the log sizes on `conn` `every` seconds (for `seconds`, or until told to stop);
    each change is posted as LedgerAppended."""
    until = None if seconds is None else time.monotonic() + seconds
    seen = origin_sizes(conn)
    while keep_going() and (until is None or time.monotonic() < until):
        if stop.wait(every):
            return
        now = origin_sizes(conn)
        for origin, size in now.items():
            if seen.get(origin) != size:
                post(LedgerAppended(origin, size))
        seen = now


def await_replica(
    data: LedgerData, origin: str, size: int, keep_going: Callable[[], bool],
    stop: threading.Event,
) -> None:
    """Return once the replica holds `size` events of `origin` (or after REPLAY_WAIT_SECONDS,
    or at once without a replica): the notification is then posted either way."""
    if not data.replica:
        return
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while keep_going() and time.monotonic() < deadline:
        try:
            if data.origin_size(origin) >= size:
                return
        except psycopg.Error:
            return  # the replica is down: the screens say so on their next read
        stop.wait(0.05)
