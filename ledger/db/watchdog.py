"""A client-side deadline for statements on a connection whose server may never answer.

Why: `statement_timeout` is enforced by the server, and TCP keepalives or `tcp_user_timeout` are
answered by the peer's kernel, so a server that accepts TCP but never answers (a hung process,
a stalled proxy) holds a statement forever. The hooks cannot wait forever: a side-effecting
call must fail closed within `LEDGER_ACK_TIMEOUT`, and the writer thread must get back to the
spool. `guard(conn, seconds)` arms one deadline; if the block has not finished by then, the
connection's socket is shut down, the blocked libpq call sees the connection closed and raises
`psycopg.OperationalError` (which the writer treats as "database unavailable": spool, retry).

One daemon thread serves every guard in the process; arming and disarming is a lock and a
dict entry, so it costs nothing measurable per batch.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["guard", "tripped"]

log = logging.getLogger("ledger.db")


class _Watchdog:
    """Deadlines by guard id; the thread cuts the socket of any guard past its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, int]] = {}  # guard id -> (deadline, socket fd)
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.tripped = 0  # connections cut so far (tests, diagnostics)
        self._waking = float("inf")  # when the thread wakes next (no notify needed before)

    def arm(self, fd: int, seconds: float) -> int:
        with self._cond:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="ledger-watchdog",
                                                daemon=True)
                self._thread.start()
            key = next(self._ids)
            deadline = time.monotonic() + seconds
            self._armed[key] = (deadline, fd)
            if deadline < self._waking:  # usually not: equal timeouts arm later deadlines,
                self._cond.notify()  # so the hot path costs no thread wake-up
            return key

    def disarm(self, key: int) -> None:
        """Under the lock: once this returns the thread can no longer touch the fd (which the
        caller may then close, letting the number be reused)."""
        with self._cond:
            self._armed.pop(key, None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [k for k, (deadline, _) in self._armed.items() if deadline <= now]
                for key in due:
                    _, fd = self._armed.pop(key)
                    self.tripped += 1
                    _cut(fd)
                nearest = min((d for d, _ in self._armed.values()), default=None)
                self._waking = float("inf") if nearest is None else nearest
                self._cond.wait(None if nearest is None else max(0.0, nearest - now))


def _cut(fd: int) -> None:
    """Shut the socket down in both directions (the owner still closes its fd)."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError as exc:
        log.debug("ledger: watchdog could not reach socket %s: %s", fd, exc)
        return
    with contextlib.closing(sock):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            log.debug("ledger: watchdog could not shut socket %s down: %s", fd, exc)


_dog = _Watchdog()


def _fileno(conn: Any) -> int | None:
    try:
        fd = conn.fileno()
    except Exception:  # closed, or not a psycopg connection (a test double)
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None


@contextlib.contextmanager
def guard(conn: Any, seconds: float) -> Iterator[None]:
    """Cut `conn` if the block runs longer than `seconds` (see module docstring)."""
    fd = _fileno(conn)
    if fd is None:
        yield
        return
    key = _dog.arm(fd, seconds)
    try:
        yield
    finally:
        _dog.disarm(key)


def tripped() -> int:
    """How many connections the watchdog has cut in this process."""
    return _dog.tripped
