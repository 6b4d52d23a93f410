"""`ledger demo`: the README's main command."""

from __future__ import annotations

import typer

from ledger.cli import app
from ledger.cli.common import connection, settings_from
from ledger.errors import ExitCode


@app.command("demo")
def demo(ctx: typer.Context) -> None:
    """Record a scripted agent run on the ledger, verify it, and print a summary.

    Safe to run repeatedly: each run adds new agent runs to the same ledger.
    """
    from ledger.demo import run_demo

    settings = settings_from(ctx)
    ok = run_demo(settings, connection(ctx))
    if not ok:
        raise typer.Exit(int(ExitCode.INVALID))
