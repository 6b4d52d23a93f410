"""Verify and export read one batch ahead in a thread; leaving early must never hang."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from ledger.readahead import THREAD_NAME, read_ahead


def _numbers(produced: list[int], limit: int = 10_000) -> Iterator[tuple[Any, ...]]:
    for i in range(limit):
        produced.append(i)
        yield (i,)


def test_items_arrive_in_order() -> None:
    assert [item[0] for item in read_ahead(_numbers([], 50))] == list(range(50))


def test_a_consumer_that_stops_early_releases_the_reader() -> None:
    produced: list[int] = []
    reader = read_ahead(_numbers(produced))
    assert next(reader) == (0,)
    reader.close()  # what a `raise Suspect` inside the for loop does
    assert not any(t.name == THREAD_NAME for t in threading.enumerate())
    assert len(produced) < 10  # it stopped reading instead of draining the source


def test_a_consumer_that_fails_on_the_last_batch_does_not_deadlock() -> None:
    """The reader has already queued its end marker into a full queue."""
    with pytest.raises(RuntimeError), closing(read_ahead(_numbers([], 3))) as reader:
        for _item in reader:
            raise RuntimeError("suspect")
    assert not any(t.name == THREAD_NAME for t in threading.enumerate())


def test_an_error_while_reading_reaches_the_consumer() -> None:
    def broken() -> Iterator[tuple[Any, ...]]:
        yield (1,)
        raise ConnectionError("server closed the connection")

    with pytest.raises(ConnectionError, match="server closed"):
        list(read_ahead(broken()))
