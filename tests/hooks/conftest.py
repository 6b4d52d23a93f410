"""Fixtures for the hook tests: a real writer against a fresh ledger database.

`FlakyDatabase` wraps the real `connect` so a test can take the database "away" (new
connections fail, the open one is closed under the writer) and bring it back, which is exactly
what a network partition or a database restart looks like to a writer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.errors import DatabaseUnavailable
from ledger.hooks import configure, shutdown
from ledger.hooks.writer import Writer
from ledger.store.read import run_events


class FlakyDatabase:
    """A connect() that can be switched off; switching off also breaks the live connection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.down = False
        self.conns: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def __call__(self) -> psycopg.Connection:
        if self.down:
            raise DatabaseUnavailable("cannot reach the ledger database: (test) down")
        conn = connect(self.settings)
        with self._lock:
            self.conns.append(conn)
            if self.down:  # it went down while this connection was being made: cut it too
                conn.close()
                raise DatabaseUnavailable("cannot reach the ledger database: (test) down")
        return conn

    def go_down(self) -> None:
        with self._lock:
            self.down = True
            for conn in self.conns:
                conn.close()

    def come_back(self) -> None:
        self.down = False


@pytest.fixture
def flaky(ledger_settings: Settings) -> FlakyDatabase:
    return FlakyDatabase(ledger_settings)


@pytest.fixture
def writer(ledger_settings: Settings, flaky: FlakyDatabase) -> Iterator[Writer]:
    w = configure(ledger_settings, connect=flaky, sequence=True, retry_interval=0.05,
                  sequence_interval=0.0)
    yield w
    shutdown()


def stored(conn: psycopg.Connection, run_id: Any) -> list[Any]:
    """The typed events of a run, in run order."""
    return [s.event for s in run_events(conn, run_id)]
