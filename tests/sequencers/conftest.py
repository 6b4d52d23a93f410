"""Several real `ledger serve` processes on one real database (issue 20 item 2).

Each `Serve` is its own process started from the installed `ledger` entry point; its lease
holder name carries its pid, so the lease table says which process sequences which tenant.
Nothing sleeps for synchronisation: `until` polls a condition with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from ledger.config import Settings
from ledger.store.append import submit
from tests.ledgerkit import chained_run

LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
LEASE = 3.0  # seconds: short, so a takeover fits the test budget
T = TypeVar("T")


def until(what: str, check: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Serve:
    """One real `ledger serve` process."""

    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def owns(self, holder: str | None) -> bool:
        """Is this lease holder name this process's (host:pid:random)?"""
        return holder is not None and holder.split(":")[-2] == str(self.pid)


class Fleet:
    """Start `ledger serve` processes on one ledger; kill whatever is left at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started: list[Serve] = []

    def start(self, *tenants: str) -> Serve:
        env = {**os.environ, "LEDGER_DSN": self.settings.dsn or "",
               "LEDGER_HOME": str(self.settings.home), "LEDGER_LEASE_SECONDS": str(LEASE)}
        args = [LEDGER_BIN, "serve"] + [a for t in tenants for a in ("--tenant", t)]
        serve = Serve(subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL))
        self.started.append(serve)
        return serve

    def close(self) -> None:
        for serve in self.started:
            if serve.proc.poll() is None:
                serve.proc.send_signal(signal.SIGKILL)
            serve.proc.wait(timeout=30)


@pytest.fixture
def fleet(ledger_settings: Settings, ledger_conn: psycopg.Connection) -> Iterator[Fleet]:
    """A ledger with a log key (made by the owner's first append) and no serve running yet."""
    from ledger.store.sequencer import log_signer

    log_signer(ledger_settings, ledger_conn)
    running = Fleet(ledger_settings)
    try:
        yield running
    finally:
        running.close()


def fill(conn: psycopg.Connection, settings: Settings, tenants: list[str], runs: int) -> int:
    """Submit `runs` complete runs per tenant to intake (no sequencing); events submitted."""
    events = [e for t in tenants for _ in range(runs) for e in chained_run(3, tenant=t)]
    submit(conn, events, settings)
    return len(events)


def pending(conn: psycopg.Connection, tenants: list[str] | None = None) -> int:
    """Intake rows left, for these tenants (all when None)."""
    row = conn.execute("SELECT count(*) FROM ledger_intake WHERE %s::text[] IS NULL "
                       "OR split_part(origin, '/', 2) = ANY (%s::text[])",
                       (tenants, tenants)).fetchone()
    assert row is not None
    return int(row[0])


def holders(conn: psycopg.Connection) -> dict[str, str]:
    """tenant -> holder name of its unexpired lease."""
    rows = conn.execute("SELECT split_part(origin, '/', 2), holder FROM ledger_sequencer_leases "
                        "WHERE expires_at > clock_timestamp()").fetchall()
    return {t: h for t, h in rows}


def registered(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM ledger_sequencer_holders").fetchone()
    assert row is not None
    return int(row[0])
