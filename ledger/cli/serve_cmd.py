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
    metrics_addr: Annotated[str | None, typer.Option(
        "--metrics-addr", metavar="HOST:PORT",
        help="Serve Prometheus /metrics here (docs/metrics.md), e.g. 127.0.0.1:9464.")] = None,
) -> None:
    """Run the sequencer: drain intake into the log and sign checkpoints until Ctrl-C.

    It also ends runs suspended (waiting to be resumed) for longer than --abandon-after with a
    run.ended of status abandoned that continues the run's chain."""
    from ledger.errors import InputError
    from ledger.serve import installed_plugins, parse_metrics_addr
    from ledger.serve import serve as run_sequencer
    from ledger.serve_abandon import abandon_after as parse_abandon

    settings = settings_from(ctx)
    try:
        parse_abandon(abandon_after)
    except ValueError as exc:  # a one-line usage error, before anything starts
        raise typer.BadParameter(str(exc), param_hint="--abandon-after") from None
    if metrics_addr is not None:
        try:
            parse_metrics_addr(metrics_addr)
        except ValueError as exc:
            raise InputError(f"--metrics-addr: {exc}") from None  # one line, exit 2
    plugins = installed_plugins()
    err(f"sequencing into {settings.origin_prefix}/* (Ctrl-C to stop)")
    # Ctrl-C ends it: exit code 130, nothing lost; plug-ins are stopped on the way out
    run_sequencer(connection(ctx), settings, plugins=plugins, abandon=abandon_after,
                  metrics_addr=metrics_addr)
