"""Apply `sql/migrations/NNNN_name.sql` in order, each in its own transaction, and record them.

Several processes may start at once (writers, the sequencer, the CLI); an advisory lock makes
exactly one of them migrate while the others wait, then see the recorded versions.
"""

from __future__ import annotations

import hashlib

import psycopg

from ledger.db.sqlfiles import migration_files, read_sql

__all__ = ["apply_migrations", "schema_version"]

_MIGRATION_LOCK = 7162533


def schema_version(conn: psycopg.Connection) -> int:
    """Highest applied migration version (0 when none)."""
    row = conn.execute("SELECT coalesce(max(version), 0) FROM ledger_schema_migrations").fetchone()
    return int(row[0]) if row else 0


def apply_migrations(conn: psycopg.Connection) -> list[int]:
    """Apply every pending migration; return the versions applied now."""
    applied_now: list[int] = []
    files = migration_files()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(read_sql("bootstrap.sql"))
        done = {
            int(row[0])
            for row in conn.execute("SELECT version FROM ledger_schema_migrations").fetchall()
        }
        for version, name, text in files:
            if version in done:
                continue
            with conn.transaction():
                conn.execute(text.encode())
                conn.execute(
                    "INSERT INTO ledger_schema_migrations (version, name, checksum) "
                    "VALUES (%s, %s, %s)",
                    (version, name, hashlib.sha256(text.encode()).hexdigest()),
                )
            applied_now.append(version)
    return applied_now
