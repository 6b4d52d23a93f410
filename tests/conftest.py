"""Test fixtures: a real PostgreSQL per test, cloned from a migrated template.

Each xdist worker starts its own embedded PostgreSQL (or uses `LEDGER_TEST_DSN`, an admin DSN
of an external server). The schema is migrated once into a template database; every test gets
`CREATE DATABASE ... TEMPLATE`, which is fast and fully isolated. No mocks of the database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from ledger.config import Settings
from ledger.db.embedded import DEFAULT_IDLE_SECONDS, embedded_dsn, stop_embedded
from ledger.db.migrate import apply_migrations
from tests.hsmkit import SoftHsm, init_token
from tests.ledgerkit import assert_bulk_pass_agrees

pytest_plugins = ["tests.registrykit"]  # the `authority` fixture: a signed, published registry

REPO = Path(__file__).resolve().parents[1]
LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """Admin DSN of the PostgreSQL server these tests use.

    The embedded server's data lives outside pytest's numbered temp dirs, which pytest prunes
    when other sessions start. The server outlives the processes that start it, so it is
    stopped and its data removed at session end (a killed session's server is stopped by its
    idle watchdog).
    """
    external = os.environ.get("LEDGER_TEST_DSN")
    if external:
        yield external
        return
    data = Path(tempfile.mkdtemp(prefix="ledger-test-pg-"))
    try:
        yield embedded_dsn(data / "data", idle=DEFAULT_IDLE_SECONDS)
    finally:
        stop_embedded(data / "data")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_admin_dsn: str) -> str:
    """Name of a database migrated to the latest schema, used as a template."""
    name = f"ledger_template_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(
        conninfo.make_conninfo(pg_admin_dsn, dbname=name), autocommit=True
    ) as conn:
        apply_migrations(conn)
    return name


@pytest.fixture
def fresh_dsn(pg_admin_dsn: str, template_db: str) -> Iterator[str]:
    """DSN of a new database cloned from the template; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield conninfo.make_conninfo(pg_admin_dsn, dbname=name)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def ledger_settings(fresh_dsn: str, tmp_path: Path) -> Settings:
    """Settings for a fresh ledger: its own database and its own home (keys, spool)."""
    return Settings(home=tmp_path / "home", dsn=fresh_dsn)


@pytest.fixture
def ledger_conn(ledger_settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the fresh ledger database."""
    from ledger.db.connect import connect

    conn = connect(ledger_settings)
    yield conn
    conn.close()


@dataclass
class CliResult:
    """Outcome of one real `ledger` process."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(ledger_settings: Settings) -> object:
    """Run the real `ledger` command against the test's ledger: cli("verify", "--json")."""

    def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> CliResult:
        full_env = {
            **os.environ,
            "LEDGER_DSN": ledger_settings.dsn or "",
            "LEDGER_HOME": str(ledger_settings.home),
            **(env or {}),
        }
        proc = subprocess.run(
            [LEDGER_BIN, *args],
            input=input,
            capture_output=True,
            env=full_env,
            timeout=120,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    return run


@pytest.fixture
def bulk_pass_agrees(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each attack on the `ledger` fixture, the fast bulk pass of verify must flag it
    exactly when the row pass does (the verdicts asserted come from the row pass, which the bulk
    one hands over to). Tamper modules use it with `pytestmark = pytest.mark.usefixtures(...)`."""
    if "ledger" not in request.fixturenames:
        yield
        return
    conn, settings = request.getfixturevalue("ledger"), request.getfixturevalue("ledger_settings")
    yield
    assert_bulk_pass_agrees(conn, settings)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One real SoftHSM2 token per test process (tests/hsmkit.py); SOFTHSM2_CONF points at it
    for this process and the `ledger` subprocesses it starts. Mark tests `needs_softhsm`."""
    token = init_token(tmp_path_factory.mktemp("softhsm"))
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(token.conf)
    yield token
    if saved is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = saved
