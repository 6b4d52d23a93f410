"""Helpers of the partition tests: a multi-tenant ledger, its verify figures, roles, catalog."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import conninfo, sql

from ledger.config import Settings
from ledger.db.sqlfiles import migration_files, query, read_sql
from tests.ledgerkit import append, chained_run

TABLES = ("ledger_events", "ledger_tiles", "ledger_checkpoints", "ledger_cosigned")


def migrate_upto(conn: psycopg.Connection, last: int) -> None:
    """Apply the migrations up to `last` as ledger.db.migrate does (recorded the same way)."""
    conn.execute(read_sql("bootstrap.sql"))
    for version, name, text in migration_files():
        if version > last:
            break
        with conn.transaction():
            conn.execute(text.encode())
            conn.execute(query("record_migration"),
                         (version, name, hashlib.sha256(text.encode()).hexdigest()))


def fill(conn: psycopg.Connection, settings: Settings, tenants: dict[str, int]) -> None:
    """`n` chained runs for each tenant, in several batches (several checkpoints each)."""
    for _ in range(2):
        for tenant, runs in tenants.items():
            for _ in range(runs):
                append(conn, settings, chained_run(2, tenant=tenant))


def figures(conn: psycopg.Connection, settings: Settings) -> dict[str, Any]:
    """What `ledger verify` reports plus every checkpoint: must not move across storage changes."""
    from ledger.verify import verify_ledger

    report = verify_ledger(conn, settings)
    assert report.status == "ok", report.reason
    rows = conn.execute(
        "SELECT origin, tree_size, encode(root_hash, 'hex'), note FROM ledger_checkpoints "
        "ORDER BY origin, tree_size").fetchall()
    return {"origins": dict(report.origins), "size": report.tree_size,
            "events": report.events_verified, "checkpoints": rows}


def structure(conn: psycopg.Connection, table: str) -> dict[str, Any]:
    """A table's columns, constraints, indexes, triggers, policies, grants, RLS and statistics,
    as pg_catalog describes them (what `\\d+` prints)."""
    oid = conn.execute("SELECT %s::regclass::oid", (table,)).fetchone()[0]  # type: ignore[index]

    def rows(text: str) -> list[tuple[Any, ...]]:
        return sorted(conn.execute(text, (oid,)).fetchall())

    return {
        "columns": rows("SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
                        "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a LEFT JOIN "
                        "pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                        "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped"),
        "constraints": rows("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                            "WHERE conrelid = %s AND contype IN ('c', 'p', 'u', 'f')"),
        # a partitioned index prints as ON ONLY; unique without the partition key is plain now
        "indexes": rows("SELECT indexrelid::regclass::text, replace(replace(pg_get_indexdef("
                        "indexrelid), 'CREATE UNIQUE INDEX', 'CREATE INDEX'), ' ON ONLY ', ' ON ')"
                        " FROM pg_index WHERE indrelid = %s"),
        "triggers": rows("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                         "WHERE tgrelid = %s AND NOT tgisinternal"),
        "policies": rows("SELECT polname, polcmd, polroles::regrole[]::text[], "
                         "pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) "
                         "FROM pg_policy WHERE polrelid = %s"),
        "grants": rows("SELECT a.grantee::regrole::text, a.privilege_type FROM pg_class c, "
                       "aclexplode(c.relacl) a WHERE c.oid = %s"),
        "rls": rows("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s"),
        "statistics": rows("SELECT stxname, pg_get_statisticsobjdef(oid) FROM pg_statistic_ext "
                           "WHERE stxrelid = %s"),
    }


def partitions(conn: psycopg.Connection, table: str) -> list[str]:
    """Every partition below `table`, at any depth."""
    found = conn.execute("SELECT relid::text FROM pg_partition_tree(%s) WHERE level > 0",
                         (table,)).fetchall()
    return [str(r[0]) for r in found]


@contextmanager
def role(conn: psycopg.Connection, group: str) -> Iterator[str]:
    """A fresh LOGIN role, member of `group` (ledger_writer, ledger_sequencer...), made current."""
    name = f"t_{group}_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        conn.execute("RESET ROLE")
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@contextmanager
def writer(owner: psycopg.Connection, settings: Settings, tenant: str) -> Iterator[Settings]:
    """A real writer: a LOGIN role made by `ledger db writer add`'s code, bound to `tenant`,
    connecting by password; yields its Settings (its own DSN)."""
    from ledger.store.roles import add_writer

    name = f"w_{tenant}_{uuid.uuid4().hex[:8]}"
    add_writer(owner, name, tenant, None, "pw-partitions")
    dsn = conninfo.make_conninfo(settings.dsn or "", user=name, password="pw-partitions")
    try:
        yield Settings(home=settings.home, dsn=dsn)
    finally:
        owner.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        owner.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
