"""`ledger serve`: run the sequencer continuously, with the installed serve plug-ins."""

from __future__ import annotations

import typer

from ledger.cli.common import connection, err, settings_from

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("serve")
def serve(ctx: typer.Context) -> None:
    """Run the sequencer: drain intake into the log and sign checkpoints until Ctrl-C."""
    from ledger.serve import installed_plugins
    from ledger.serve import serve as run_sequencer

    settings = settings_from(ctx)
    plugins = installed_plugins()
    err(f"sequencing into {settings.origin_prefix}/* (Ctrl-C to stop)")
    # Ctrl-C ends it: exit code 130, nothing lost; plug-ins are stopped on the way out
    run_sequencer(connection(ctx), settings, plugins=plugins)
