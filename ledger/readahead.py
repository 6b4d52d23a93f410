"""Read the next batch from PostgreSQL while the caller works on the current one.

Verify and export both stream a log in batches and spend about as long checking or writing a
batch as the server takes to produce the next; psycopg releases the GIL while it waits, so one
reader thread overlaps the two. The source (usually a generator of queries on one connection)
runs only in that thread, and the connection is the caller's again once the generator is closed:
close it with `contextlib.closing` so the thread is joined on every exit, errors included.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

__all__ = ["THREAD_NAME", "read_ahead"]

T = TypeVar("T")
THREAD_NAME = "ledger-read-ahead"


class _End:
    """Marks the end of the source (a class, so no batch value can be mistaken for it)."""


_END = _End()


def read_ahead(source: Iterator[T]) -> Generator[T, None, None]:
    """Yield from `source`, fetched one batch ahead in a thread (psycopg waits without the GIL).

    The connection is used only by the thread until this generator is closed, which joins it.
    """
    ready: queue.Queue[T | BaseException | _End] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def offer(item: T | BaseException | _End) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    worker = threading.Thread(target=fetch, name=THREAD_NAME, daemon=True)
    worker.start()
    try:
        while not isinstance(item := ready.get(), _End):
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
