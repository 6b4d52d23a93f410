"""Apply `sql/migrations/NNNN_name.sql` in order, each in its own transaction, and record them.

Several processes may start at once (writers, the sequencer, the CLI); an advisory lock makes
exactly one of them migrate while the others wait, then see the recorded versions. Migrating is
an explicit step of the commands that write (`connect(settings, migrate=True)`, `ledger db
migrate`): commands that only read never run DDL, so they work on a read-only replica or role.
"""

from __future__ import annotations

import hashlib

import psycopg

from ledger.db.sqlfiles import migration_files, query, read_sql

__all__ = ["apply_migrations", "latest_version", "schema_version"]

_MIGRATION_LOCK = 7162533


def schema_version(conn: psycopg.Connection) -> int:
    """Highest applied migration version (0 when none, also on a never-migrated database)."""
    exists = conn.execute(query("migrations_table_exists")).fetchone()
    if not (exists and exists[0]):
        return 0
    row = conn.execute(query("schema_version")).fetchone()
    return int(row[0]) if row else 0


def latest_version() -> int:
    """The version the migrations in sql/ bring a database to."""
    return max((version for version, _name, _text in migration_files()), default=0)


def apply_migrations(conn: psycopg.Connection) -> list[int]:
    """Apply every pending migration; return the versions applied now."""
    applied_now: list[int] = []
    files = migration_files()
    with conn.transaction():
        conn.execute(query("migration_lock"), (_MIGRATION_LOCK,))
        conn.execute(read_sql("bootstrap.sql"))
        done = {int(row[0]) for row in conn.execute(query("applied_migrations")).fetchall()}
        for version, name, text in files:
            if version in done:
                continue
            with conn.transaction():
                conn.execute(text.encode())
                conn.execute(
                    query("record_migration"),
                    (version, name, hashlib.sha256(text.encode()).hexdigest()),
                )
            applied_now.append(version)
    return applied_now
