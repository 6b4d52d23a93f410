"""Open a connection to the configured ledger database, migrating it on first use.

Embedded mode starts the embedded server, or reuses it (it stays up between commands), and
creates the `ledger` database if it is missing. Connections are autocommit: writers' receipts
are commits, and the sequencer opens its own explicit transaction per batch.
"""

from __future__ import annotations

import psycopg
from psycopg import conninfo

from ledger.config import Settings
from ledger.db.embedded import embedded_dsn
from ledger.db.migrate import apply_migrations
from ledger.errors import DatabaseUnavailable

__all__ = ["connect", "database_dsn"]

EMBEDDED_DATABASE = "ledger"
_migrated: set[str] = set()


def database_dsn(settings: Settings) -> str:
    """The DSN of the ledger database (starting the embedded server if needed)."""
    if settings.dsn is not None:
        return settings.dsn
    server = embedded_dsn(settings.pgdata)
    dsn = conninfo.make_conninfo(server, dbname=EMBEDDED_DATABASE)
    if dsn not in _migrated:
        with _open(server) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)
            ).fetchone()
            if not exists:
                try:
                    admin.execute("CREATE DATABASE ledger")
                except psycopg.errors.DuplicateDatabase:
                    pass
    return dsn


def _open(dsn: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the ledger database: {first_line}") from None


def connect(settings: Settings, *, migrate: bool = True) -> psycopg.Connection:
    """An autocommit connection to the ledger database, migrated to the latest schema."""
    dsn = database_dsn(settings)
    conn = _open(dsn)
    if migrate and dsn not in _migrated:
        apply_migrations(conn)
        _migrated.add(dsn)
    return conn
