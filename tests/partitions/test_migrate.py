"""Migration 0026 in place: a multi-tenant ledger at 0025 keeps its sizes, roots, checkpoints,
and every table keeps its indexes, constraints, triggers, policies and grants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from ledger.config import Settings
from tests.partitions.partkit import TABLES, figures, fill, migrate_upto, partitions, structure

pytestmark = pytest.mark.xdist_group("partitions")


@pytest.fixture
def at_0025(pg_admin_dsn: str, ledger_conn: psycopg.Connection, ledger_settings: Settings,
            tmp_path: Path) -> Iterator[tuple[psycopg.Connection, Settings]]:
    """A database at migration 0025 holding a ledger the sequencer wrote (three tenants, runs,
    several checkpoints each): rows copied as they are from a ledger written by this code."""
    fill(ledger_conn, ledger_settings, {"acme": 2, "globex": 1, "default": 1})
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = conninfo.make_conninfo(pg_admin_dsn, dbname=name)
    conn = psycopg.connect(dsn, autocommit=True)
    migrate_upto(conn, 25)
    for table in TABLES:
        source = f"COPY (SELECT * FROM {table}) TO STDOUT (FORMAT BINARY)"
        with ledger_conn.cursor().copy(source) as out, \
                conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as into:
            for chunk in out:
                into.write(chunk)
    yield conn, Settings(home=ledger_settings.home, dsn=dsn)
    conn.close()
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_in_place_keeps_every_size_root_and_checkpoint(
    at_0025: tuple[psycopg.Connection, Settings],
) -> None:
    from ledger.db.migrate import apply_migrations, schema_version

    conn, settings = at_0025
    assert schema_version(conn) == 25
    before = figures(conn, settings)
    shapes = {t: structure(conn, t) for t in TABLES}
    assert len(before["origins"]) == 3 and before["events"] > 30
    assert 26 in apply_migrations(conn)
    assert figures(conn, settings) == before
    for table in TABLES:
        assert structure(conn, table) == shapes[table], table
        kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass",
                            (table,)).fetchone()
        assert kind == ("p",)
        assert f"{table}_default" in partitions(conn, table)
    # every stored event has its guard row, and the rows are in seq range partitions
    assert conn.execute("SELECT count(*) FROM ledger_event_keys").fetchone() == (before["events"],)
    assert conn.execute("SELECT count(*) FROM ledger_events_default_rest").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM ledger_events_default_r0").fetchone() == (
        before["events"],)
