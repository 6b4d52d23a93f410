"""`ledger serve`: run the sequencer continuously."""

from __future__ import annotations

import typer

from ledger.cli import app
from ledger.cli.common import connection, err, settings_from
from ledger.serve import serve as run_sequencer


@app.command("serve")
def serve(ctx: typer.Context) -> None:
    """Run the sequencer: drain intake into the log and sign checkpoints until Ctrl-C."""
    settings = settings_from(ctx)
    err(f"sequencing into {settings.origin_prefix}/* (Ctrl-C to stop)")
    run_sequencer(connection(ctx), settings)  # Ctrl-C ends it: exit code 130, nothing lost
