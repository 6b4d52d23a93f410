"""`ledger db status|migrate|stop|writer add`: which PostgreSQL is in use, its schema version,
stopping the embedded server (which otherwise stays up between commands until it has been
idle), and binding writer credentials to a tenant."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import JsonOption, connection, emit_json, say, settings_from

if TYPE_CHECKING:
    from ledger.db.embedded import EmbeddedStatus

__all__ = ["app"]

app = typer.Typer(
    help="Database: status, migrations, stop.", no_args_is_help=True, add_completion=False
)


@app.command("status")
def status(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Which database is in use (embedded or external), its schema version and log sizes."""
    from ledger.backlog import read_backlog
    from ledger.db.embedded import embedded_status
    from ledger.db.migrate import schema_version
    from ledger.db.sqlfiles import migration_files, query
    from ledger.store.read import latest_checkpoint, origins

    settings = settings_from(ctx)
    was_running = settings.embedded and embedded_status(settings.pgdata).running
    conn = connection(ctx)
    embedded = embedded_status(settings.pgdata) if settings.embedded else None
    server = conn.execute("SHOW server_version").fetchone()
    logs = {
        origin: (cp.tree_size if (cp := latest_checkpoint(conn, origin)) else 0)
        for origin in origins(conn)
    }
    info: dict[str, object] = {
        "mode": "embedded" if settings.embedded else "external",
        "data_dir": str(settings.pgdata) if settings.embedded else None,
        "server_version": server[0] if server else None,
        "database": conn.info.dbname,
        "schema_version": schema_version(conn),
        "latest_migration": migration_files()[-1][0],
        "intake_pending": int(conn.execute(query("intake_count")).fetchone()[0]),  # type: ignore[index]
        "backlog": (backlog := read_backlog(conn)).as_dict(),
        "logs": logs,
        "embedded_server": {**asdict(embedded), "was_running": was_running} if embedded else None,
    }
    if json_out:
        emit_json(info)
        return
    where = (
        f"embedded PostgreSQL in {info['data_dir']}" if settings.embedded else "external PostgreSQL"
    )
    typer.echo(f"database: {where} (server {info['server_version']}, db {info['database']})")
    if embedded is not None:
        typer.echo(f"embedded server: {_lifetime(embedded, was_running)}")
    typer.echo(f"schema version: {info['schema_version']} (latest {info['latest_migration']})")
    typer.echo(f"intake pending: {info['intake_pending']}")
    if backlog.count:
        typer.echo(backlog.line())
    for origin, size in logs.items():
        typer.echo(f"log {origin}: {size} events")


@app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Apply pending migrations (commands that write also do this on first use)."""
    from ledger.db.migrate import apply_migrations, schema_version

    conn = connection(ctx)
    applied = apply_migrations(conn)
    typer.echo(
        f"applied: {applied or 'nothing (up to date)'}; schema version {schema_version(conn)}"
    )


writer_app = typer.Typer(
    help="Writer credentials bound to a tenant (production roles, docs/operations.md).",
    no_args_is_help=True, add_completion=False,
)
app.add_typer(writer_app, name="writer")


@writer_app.command("add")
def writer_add(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="LOGIN role to create, or an existing role.")],
    tenant: Annotated[str, typer.Option("--tenant", help="The one tenant it may write.")],
    agent: Annotated[
        str | None, typer.Option("--agent", help="Also bind to this agent name.")
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Environment variable holding the new password."),
    ] = None,
) -> None:
    """Create or bind a writer: a LOGIN role in ledger_writer that may submit only the events of
    one tenant (RLS), reads nothing but its tenant through the read API, and cannot sequence.
    Run as the database owner (embedded mode: the local user)."""
    import os

    from ledger.errors import InputError
    from ledger.store.roles import add_writer

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            raise InputError(f"--password-env {password_env}: variable is not set or empty")
    for line in add_writer(connection(ctx), role, tenant, agent, password):
        say(line)


def _lifetime(server: EmbeddedStatus, was_running: bool) -> str:
    """One line on the embedded server: its pid, whether this command started it, what stops it."""
    from ledger.db.embedded import IDLE_ENV

    started = "already running" if was_running else "started by this command"
    idle = server.idle_stop_seconds
    if not idle:
        return f"pid {server.pid}, {started}; stays up until `ledger db stop`"
    after = f"{idle / 60:g} min" if idle >= 60 else f"{idle:g} s"
    return f"pid {server.pid}, {started}; stops after {after} without clients ({IDLE_ENV})"


@app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL of this home now (clients are disconnected).

    It otherwise stays up between commands and stops itself after LEDGER_EMBEDDED_IDLE (default
    15 minutes) without clients; the next command starts it again.
    """
    from ledger.db.embedded import stop_embedded

    pgdata = settings_from(ctx).pgdata
    if stop_embedded(pgdata):
        typer.echo(f"stopped the embedded PostgreSQL in {pgdata}")
    else:
        typer.echo(f"the embedded PostgreSQL in {pgdata} was not running")
