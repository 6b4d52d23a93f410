"""Fixtures for the integrity suite: the real `ledger` CLI against the test's ledger."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.events import EventBase
from ledger.keys import load_or_create_signer
from tests.conftest import LEDGER_BIN, REPO, CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def icli(ledger_settings: Settings) -> Cli:
    """Run `ledger ARGS...` as a real subprocess against the test's ledger."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        full_env = {
            **os.environ,
            "LEDGER_DSN": ledger_settings.dsn or "",
            "LEDGER_HOME": str(ledger_settings.home),
            **(env or {}),
        }
        proc = subprocess.run(
            [LEDGER_BIN, *args],
            capture_output=True,
            env=full_env,
            timeout=120,
            check=False,
            cwd=REPO,
        )
        return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    return run


@pytest.fixture
def writer(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> Iterator[tuple[str, psycopg.Connection]]:
    """A real LOGIN role in ledger_writer (what a deployment gives the agent host) and its
    connection: the hostile writer of the issue 15 attack tests."""
    role = f"agent_w_{uuid.uuid4().hex[:8]}"
    ident = sql.Identifier(role)
    ledger_conn.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw-w' IN ROLE ledger_writer").format(ident)
    )
    dsn = conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-w")
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield role, conn
    finally:
        conn.close()
        ledger_conn.execute("DELETE FROM ledger_intake WHERE submitted_by = %s", (role,))
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def fate(conn: psycopg.Connection, event: EventBase | uuid.UUID) -> str:
    """'sequenced', or the reject reason of an event (or event id)."""
    event_id = event if isinstance(event, uuid.UUID) else event.event_id
    if conn.execute("SELECT 1 FROM ledger_events WHERE event_id = %s", (event_id,)).fetchone():
        return "sequenced"
    row = conn.execute(
        "SELECT reason FROM ledger_rejects WHERE event_id = %s ORDER BY rejected_at DESC",
        (event_id,),
    ).fetchone()
    assert row is not None, "neither sequenced nor rejected"
    return str(row[0])


@pytest.fixture
def trusted_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The registry administrator's key file `sec-admin.key`, made the sequencer's trust root
    (LEDGER_TRUST_ROOT), as for judging a writer's registry.published."""
    admin = tmp_path / "sec-admin.key"
    load_or_create_signer(admin, "sec-admin")
    monkeypatch.setenv("LEDGER_TRUST_ROOT", str(admin) + ".pub")
    return admin
