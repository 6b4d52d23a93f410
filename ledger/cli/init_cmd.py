"""`ledger init`: create a ledger home and bring its database to the current schema.

Why a command of its own: commands that only read refuse a home that does not exist (the home
rule, ledger.cli.common.WRITES), so a mistyped `--home` is an error instead of a new, empty
ledger; `ledger init` is the explicit way to start one (writing commands also create it).
"""

from __future__ import annotations

import typer

from ledger.cli.common import connection, say, settings_from

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("init")
def init(ctx: typer.Context) -> None:
    """Create the ledger home (if missing) and migrate its database to the current schema."""
    from ledger.db.migrate import schema_version

    settings = settings_from(ctx)
    settings.home.mkdir(parents=True, exist_ok=True)
    with connection(ctx) as conn:
        version = schema_version(conn)
    where = "embedded database" if settings.embedded else "external database"
    say(f"ledger ready at {settings.home} ({where}, schema version {version})")
