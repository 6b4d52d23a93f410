"""sql/schema.sql is what the migrations produce, and commands that only read never migrate.

The schema test migrates a fresh database and diffs its `pg_dump --schema-only` against
sql/schema.sql, so a migration that changes the schema without regenerating the file fails with
the diff. The read-only tests run the real `ledger` command on databases where writing is
refused or the schema is missing: `verify` must read, and say what to do, never migrate.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.db.schema import SCHEMA_FILE, diff_schema, migrated_schema
from ledger.db.sqlfiles import sql_dir
from tests.ledgerkit import append, chained_run


def test_schema_sql_matches_a_freshly_migrated_database(pg_admin_dsn: str) -> None:
    expected = (sql_dir() / SCHEMA_FILE).read_text(encoding="utf-8")
    diff = diff_schema(migrated_schema(pg_admin_dsn), expected)
    if diff:
        pytest.fail(
            "sql/schema.sql is not what the migrations produce; regenerate it with "
            "`python -m ledger.db.schema --write`:\n" + diff,
            pytrace=False,
        )


def test_schema_diff_is_readable() -> None:
    diff = diff_schema("CREATE TABLE t (a int);\n", "CREATE TABLE t (a bigint);\n")
    assert "--- sql/schema.sql" in diff
    assert "-CREATE TABLE t (a bigint);" in diff
    assert "+CREATE TABLE t (a int);" in diff


def _set_read_only(admin_dsn: str, dsn: str) -> None:
    name = conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                sql.Identifier(str(name))
            )
        )


def test_verify_runs_on_a_database_that_refuses_writes(
    pg_admin_dsn: str, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Any
) -> None:
    append(ledger_conn, ledger_settings, chained_run(2))
    assert ledger_settings.dsn is not None
    _set_read_only(pg_admin_dsn, ledger_settings.dsn)
    with psycopg.connect(ledger_settings.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE probe (a int)")
    result = cli("verify")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OK: "), result.stdout
    assert cli("checkpoint").exit_code == 0


def test_a_reader_on_an_unmigrated_database_says_to_migrate_and_creates_nothing(
    pg_admin_dsn: str, cli: Any
) -> None:
    name = f"t_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    dsn = conninfo.make_conninfo(pg_admin_dsn, dbname=name)
    try:
        result = cli("checkpoint", env={"LEDGER_DSN": dsn})
        assert result.exit_code == 3
        assert "ledger db migrate" in result.stderr
        assert "Traceback" not in result.stderr
        with psycopg.connect(dsn, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
        assert tables == (0,)
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
