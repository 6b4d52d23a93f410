"""Fixtures of the Semantic Kernel environment: a real ledger database per test.

Run from the main suite (tests/integrations/test_semantic_kernel_env.py), the database server
and the migrated template are the main session's (`LEDGER_TEST_DSN`, `LEDGER_TEST_TEMPLATE`);
run alone (`tests/envs/sk/.venv/bin/python -m pytest tests/envs/sk/tests`), the embedded
server is started here and a template migrated, as tests/conftest.py does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from ledger.config import Settings
from ledger.db.embedded import DEFAULT_IDLE_SECONDS, embedded_dsn, stop_embedded
from ledger.db.migrate import apply_migrations
from ledger.hooks import configure, shutdown
from ledger.hooks.writer import Writer


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    external = os.environ.get("LEDGER_TEST_DSN")
    if external:
        yield external
        return
    data = Path(tempfile.mkdtemp(prefix="ledger-sk-pg-"))
    try:
        yield embedded_dsn(data / "data", idle=DEFAULT_IDLE_SECONDS)
    finally:
        stop_embedded(data / "data")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_admin_dsn: str) -> str:
    given = os.environ.get("LEDGER_TEST_TEMPLATE")
    if given:
        return given
    name = f"ledger_template_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(conninfo.make_conninfo(pg_admin_dsn, dbname=name),
                         autocommit=True) as conn:
        apply_migrations(conn)
    return name


@pytest.fixture
def ledger_settings(pg_admin_dsn: str, template_db: str, tmp_path: Path) -> Iterator[Settings]:
    name = f"t_sk_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield Settings(home=tmp_path / "home", dsn=conninfo.make_conninfo(pg_admin_dsn, dbname=name))
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def ledger_conn(ledger_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(ledger_settings.dsn or "", autocommit=True) as conn:
        yield conn


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    w = configure(ledger_settings, sequence=True, retry_interval=0.05, sequence_interval=0.0)
    yield w
    shutdown()
