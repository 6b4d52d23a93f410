"""Process-wide hook configuration: one writer, one price table, one payload limit.

`configure()` is optional: the first `ledger.run(...)` configures from the environment
(`LEDGER_HOME`, `LEDGER_DSN`), which is what makes "two lines of code" work. Tests and services
call it explicitly to point at a database or inject a fake store.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.hooks.pricing import PriceTable, default_price_table
from ledger.hooks.writer import DEFAULT_MAX_EVENT_BYTES, Writer

__all__ = ["ack_timeout", "configure", "get_price_table", "get_writer", "shutdown"]

_lock = threading.Lock()


class _State:
    """Mutable process state (a class, not module globals, to keep writes explicit)."""

    writer: Writer | None = None
    prices: PriceTable | None = None


_state = _State()


def ack_timeout() -> float:
    """Seconds a side-effecting call waits for its intent to be acknowledged before failing
    closed: `LEDGER_ACK_TIMEOUT` (default 5) as resolved in the writer's settings. Integrations
    call this (never a constant) so the setting reaches every wait."""
    return get_writer().settings.timeouts.ack


def configure(
    settings: Settings | None = None,
    *,
    dsn: str | None = None,
    home: Path | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    price_table: PriceTable | Path | None = None,
    **writer_options: Any,
) -> Writer:
    """(Re)configure the hooks; flushes and replaces any previous writer. Returns the writer."""
    resolved = settings or Settings.from_env(dsn=dsn, home=home)
    writer = Writer(resolved, max_event_bytes=max_event_bytes, **writer_options)
    with _lock:
        old, _state.writer = _state.writer, writer
        if isinstance(price_table, Path):
            price_table = PriceTable.from_file(price_table)
        _state.prices = price_table
    if old is not None:
        old.close()
    return writer


def get_writer() -> Writer:
    """The process writer, configured from the environment on first use."""
    writer = _state.writer
    if writer is None:
        with _lock:
            if _state.writer is None:
                _state.writer = Writer(Settings.from_env())
            writer = _state.writer
    return writer


def get_price_table() -> PriceTable:
    """The configured price table, or the bundled default."""
    return _state.prices or default_price_table()


def shutdown(timeout: float = 30.0) -> None:
    """Flush and stop the writer (also done automatically at interpreter exit)."""
    with _lock:
        writer, _state.writer = _state.writer, None
    if writer is not None:
        writer.close(timeout)
