"""`ledger serve`: run the sequencer continuously, with the installed serve plug-ins."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli.common import connection, duration_option, err, settings_from

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("serve")
def serve(
    ctx: typer.Context,
    abandon_after: Annotated[str | None, duration_option(
        "--abandon-after",
        help="End runs suspended longer than this as abandoned (seconds, or e.g. 12h, 7d; "
             "default $LEDGER_ABANDON_AFTER, else 7d).")] = None,
) -> None:
    """Run the sequencer: drain intake into the log and sign checkpoints until Ctrl-C.

    It also ends runs suspended (waiting to be resumed) for longer than --abandon-after with a
    run.ended of status abandoned that continues the run's chain."""
    from ledger.serve import installed_plugins
    from ledger.serve import serve as run_sequencer
    from ledger.serve_abandon import abandon_after as parse_abandon

    settings = settings_from(ctx)
    try:
        parse_abandon(abandon_after)
    except ValueError as exc:  # a one-line usage error, before anything starts
        raise typer.BadParameter(str(exc), param_hint="--abandon-after") from None
    plugins = installed_plugins()
    err(f"sequencing into {settings.origin_prefix}/* (Ctrl-C to stop)")
    # Ctrl-C ends it: exit code 130, nothing lost; plug-ins are stopped on the way out
    run_sequencer(connection(ctx), settings, plugins=plugins, abandon=abandon_after)
