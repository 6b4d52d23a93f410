"""Open a connection to the configured ledger database; migrate it only when asked.

Embedded mode starts the embedded server, or reuses it (it stays up between commands), and
creates the `ledger` database if it is missing. Connections are autocommit: writers' receipts
are commits, and the sequencer opens its own explicit transaction per batch.

Migrating is an explicit step: commands that write pass `migrate=True` (as does `ledger db
migrate`); commands that only read (`verify`, `tui --readonly`, `verify-bundle`, `export`'s
reads) connect without it, run no DDL, and so work on a read replica or with a read-only role.
A reader on a database older than the code is told to migrate instead of failing on a table.

A read replica (`LEDGER_READ_DSN`, a hot standby streaming from the primary) is opened by
`read_connection`: never migrated, in a read-only session (`default_transaction_read_only`), so
a write asked of it fails on the server instead of landing anywhere; with no replica it is the
primary's ordinary unmigrated connection. Writes (export's custody event, the TUI's stops) open
the primary with `connect`, never the read connection: nothing reads its own write back from a
replica that may not have replayed it yet.

Every connection gives up after `LEDGER_CONNECT_TIMEOUT` (handshake included, so a server that
accepts TCP and never answers is not waited on forever). The hooks' connections are `bounded`:
statements time out on the server after `LEDGER_STATEMENT_TIMEOUT`, TCP keepalives and
`tcp_user_timeout` notice a silent network, and the hooks arm `ledger.db.watchdog.guard`
around their statements for a server that stops answering altogether. Commands (verify, export,
serve) are not bounded: their statements may legitimately run long.
"""

from __future__ import annotations

import psycopg
from psycopg import conninfo

from ledger.config import Settings, Timeouts
from ledger.db.embedded import embedded_dsn
from ledger.db.migrate import apply_migrations, latest_version, schema_version
from ledger.db.sqlfiles import query
from ledger.errors import DatabaseUnavailable

__all__ = ["bounded_conninfo", "connect", "database_dsn", "read_connection", "reads_replica"]

EMBEDDED_DATABASE = "ledger"
_migrated: set[str] = set()
_current: set[str] = set()


def database_dsn(settings: Settings) -> str:
    """The DSN of the ledger database (starting the embedded server if needed)."""
    if settings.dsn is not None:
        return settings.dsn
    server, dsn = _embedded(settings)
    if dsn not in _migrated:
        _create_database(server, settings.timeouts)
    return dsn


def _embedded(settings: Settings) -> tuple[str, str]:
    """(server DSN, ledger database DSN) of the embedded server, started or reused."""
    server = embedded_dsn(settings.pgdata)
    return server, conninfo.make_conninfo(server, dbname=EMBEDDED_DATABASE)


def _create_database(server: str, timeouts: Timeouts) -> None:
    """Create the embedded server's `ledger` database if it is missing (a new data dir)."""
    with _open(server, timeouts) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if not exists:
            try:
                admin.execute("CREATE DATABASE ledger")
            except psycopg.errors.DuplicateDatabase:
                pass


def _open_ledger(settings: Settings, bounded: bool) -> tuple[str, psycopg.Connection]:
    """(DSN, connection) of the ledger database. Embedded, the `ledger` database is opened
    directly: only when that fails (a new data dir has none) is it created and opened again,
    so a command on a running server pays one connection, not an admin one as well."""
    def opened(dsn: str) -> psycopg.Connection:
        target = bounded_conninfo(dsn, settings.timeouts) if bounded else dsn
        return _open(target, settings.timeouts)

    if settings.dsn is not None:
        return settings.dsn, opened(settings.dsn)
    server, dsn = _embedded(settings)
    try:
        return dsn, opened(dsn)
    except DatabaseUnavailable:
        _create_database(server, settings.timeouts)
        return dsn, opened(dsn)


def bounded_conninfo(dsn: str, timeouts: Timeouts) -> str:
    """`dsn` with the hooks' bounds: server statement timeout, keepalives, tcp_user_timeout
    (libpq ignores the TCP ones on a Unix socket)."""
    tcp_ms = max(1000, int((timeouts.statement + timeouts.connect) * 1000))
    return conninfo.make_conninfo(
        dsn, keepalives=1, keepalives_idle=max(1, int(timeouts.statement)),
        keepalives_interval=1, keepalives_count=3, tcp_user_timeout=tcp_ms,
        options=f"-c statement_timeout={timeouts.statement_ms}")


def _open(dsn: str, timeouts: Timeouts | None = None) -> psycopg.Connection:
    seconds = (timeouts or Timeouts()).connect_seconds
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=seconds)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the ledger database: {first_line}") from None


def _require_current(conn: psycopg.Connection, dsn: str) -> None:
    """Refuse (with what to do) a database whose schema is older than this code expects."""
    if dsn in _current or dsn in _migrated:
        return
    have, want = schema_version(conn), latest_version()
    if have < want:
        conn.close()
        raise DatabaseUnavailable(
            f"the ledger database is at schema version {have}, this ledger needs {want}: "
            "run `ledger db migrate` (or any command that writes) first"
        )
    _current.add(dsn)


def connect(settings: Settings, *, migrate: bool = False,
            bounded: bool = False) -> psycopg.Connection:
    """An autocommit connection to the ledger database.

    With `migrate=True` pending migrations are applied first (once per process and database);
    without it nothing is written and the schema must already be current. `bounded=True` is
    for the hooks (module docstring): statements time out after LEDGER_STATEMENT_TIMEOUT.
    """
    dsn, conn = _open_ledger(settings, bounded)
    if migrate and dsn not in _migrated:
        if schema_version(conn) < latest_version():  # a current schema needs no DDL: writer
            if bounded:  # roles (migration 0010) may not run any; a migration may run long
                conn.execute(query("set_statement_timeout"), ("0",))
            apply_migrations(conn)
            if bounded:
                conn.execute(query("set_statement_timeout"),
                             (str(settings.timeouts.statement_ms),))
        _migrated.add(dsn)
    else:
        _require_current(conn, dsn)
    return conn


def reads_replica(settings: Settings) -> bool:
    """True when reads go to a replica distinct from the primary (writes then need their own
    connection to the primary: `connect(settings)`)."""
    return settings.read_dsn is not None and settings.read_dsn != settings.dsn


def read_connection(settings: Settings) -> psycopg.Connection:
    """An autocommit connection for reading: the replica if `settings.read_dsn` is set, else the
    primary (unmigrated, as `connect(settings)`).

    Why a function of its own: a hot standby refuses DDL and writes, so nothing that reads may
    migrate on connect; and the replica's session is read-only on the server too, so a write
    that slipped into a read path fails there (even if the DSN named a primary by mistake)
    instead of being made.
    """
    if not reads_replica(settings):
        return connect(settings, migrate=False)
    assert settings.read_dsn is not None
    given = conninfo.conninfo_to_dict(settings.read_dsn).get("options") or ""
    dsn = conninfo.make_conninfo(
        settings.read_dsn, options=f"{given} -c default_transaction_read_only=on".strip())
    conn = _open(dsn, settings.timeouts)
    _require_current(conn, dsn)
    return conn
