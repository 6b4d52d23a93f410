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
# Seconds. A holder looks dead once it has not beaten (once a second) for a lease: long enough
# that a loaded 2-core CI box does not starve a live `ledger serve` into looking dead, short
# enough that a takeover after kill -9 fits the test budget.
LEASE = 6.0
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


def leases(conn: psycopg.Connection) -> dict[str, tuple[str | None, int, object, object]]:
    """tenant -> (holder, batches, acquired_at, expires_at) of every lease row."""
    rows = conn.execute("SELECT split_part(origin, '/', 2), holder, batches, acquired_at, "
                        "expires_at FROM ledger_sequencer_leases").fetchall()
    return {t: (h, b, a, e) for t, h, b, a, e in rows}


def settle(conn: psycopg.Connection, settings: Settings, want: dict[str, Serve]) -> int:
    """Poll until each tenant is leased (live) to the process that prefers it and that process
    ran a batch on it; returns the events submitted meanwhile. A lease moves to its preferring
    process only with work, so whenever intake is empty and a tenant is still elsewhere (its
    holder gave it back, or took it while the preferring one looked dead on a loaded box), one
    more run goes to that tenant."""
    submitted = 0

    def settled() -> bool:
        nonlocal submitted
        live, rows = holders(conn), leases(conn)
        astray = [t for t, s in want.items()
                  if not (s.owns(live.get(t)) and rows.get(t, (None, 0))[1] >= 1)]
        if astray and pending(conn) == 0:
            submitted += fill(conn, settings, astray, runs=1)
        return not astray

    until("each tenant leased to the process preferring it", settled, timeout=60.0)
    return submitted
