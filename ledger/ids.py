"""Identifiers and clocks: UUIDv7 event ids (time-ordered) and nanosecond UTC timestamps.

Python 3.11 has no uuid7; this is the RFC 9562 layout (48-bit ms timestamp, version 7, variant
10, 74 random bits) with a monotonic counter so ids from one process sort in creation order.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from ledger.errors import InputError

__all__ = [
    "format_timestamp",
    "new_id",
    "now_ns",
    "parse_run_id",
    "parse_timestamp",
    "simulated_clock",
]

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> uuid.UUID:
    """Return a new UUIDv7, monotonic within this process."""
    global _last_ms, _counter  # noqa: PLW0603 - process-wide monotonic clock state
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter >= 1 << 12:
                ms += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


_clock: ContextVar[Callable[[], int] | None] = ContextVar("ledger_clock", default=None)


def now_ns() -> int:
    """Wall-clock time in integer nanoseconds since the epoch (UTC), or the simulated clock."""
    override = _clock.get()
    return override() if override is not None else time.time_ns()


@contextmanager
def simulated_clock(start_ns: int, step_ns: int = 1_000_000_000) -> Iterator[None]:
    """Make `now_ns` start at `start_ns` and advance `step_ns` per reading.

    For demos, tests and tabletop exercises that lay runs out over past days; never used by the
    live write path unless a caller asks for it explicitly.
    """
    state = {"now": start_ns - step_ns}

    def tick() -> int:
        state["now"] += step_ns
        return state["now"]

    token = _clock.set(tick)
    try:
        yield
    finally:
        _clock.reset(token)


def format_timestamp(ns: int) -> str:
    """RFC 3339 UTC timestamp with nanosecond precision, e.g. 2026-11-24T10:00:00.000000001Z."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def parse_timestamp(text: str) -> int:
    """Inverse of `format_timestamp`; accepts any RFC 3339 form with Z or an offset."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    frac_ns = 0
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        text = head + rest
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return int(moment.timestamp()) * 1_000_000_000 + frac_ns


def parse_run_id(text: str) -> uuid.UUID:
    """A run id given by a person (command line, TUI prompt), or a one-line usage error (exit 2)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InputError(f"not a run id (UUID): {text!r}") from None
