"""`ledger db status|migrate`: which PostgreSQL is in use and its schema version."""

from __future__ import annotations

import typer

from ledger.cli.common import JsonOption, connection, emit_json, settings_from

__all__ = ["app"]

app = typer.Typer(
    help="Database: status and migrations.", no_args_is_help=True, add_completion=False
)


@app.command("status")
def status(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Which database is in use (embedded or external), its schema version and log sizes."""
    from ledger.db.migrate import schema_version
    from ledger.db.sqlfiles import migration_files, query
    from ledger.store.read import latest_checkpoint, origins

    settings = settings_from(ctx)
    conn = connection(ctx)
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
        "logs": logs,
    }
    if json_out:
        emit_json(info)
        return
    where = (
        f"embedded PostgreSQL in {info['data_dir']}" if settings.embedded else "external PostgreSQL"
    )
    typer.echo(f"database: {where} (server {info['server_version']}, db {info['database']})")
    typer.echo(f"schema version: {info['schema_version']} (latest {info['latest_migration']})")
    typer.echo(f"intake pending: {info['intake_pending']}")
    for origin, size in logs.items():
        typer.echo(f"log {origin}: {size} events")


@app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Apply pending migrations (every command also does this on first use)."""
    from ledger.db.migrate import apply_migrations, schema_version

    conn = connection(ctx)
    applied = apply_migrations(conn)
    typer.echo(
        f"applied: {applied or 'nothing (up to date)'}; schema version {schema_version(conn)}"
    )
