"""`ledger spool status|flush`: what is waiting in the local spool, and deliver it now.

The spool holds events recorded while the database was unreachable (see ledger/hooks/spool.py).
Writers deliver their own spool when the database returns; `flush` is for the rest: files left
by a crashed or exited process, or an operator who wants the backlog in before an audit. Files
still locked by a live writer are skipped (that writer will deliver them itself).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import JsonOption, emit_json, err, settings_from
from ledger.errors import ExitCode

if TYPE_CHECKING:
    from ledger.store.append import EncodedEvent

__all__ = ["app"]

app = typer.Typer(
    help="Local spool of events recorded while the database was down.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("status")
def status(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Files, events and bytes waiting in the spool (exit 0 even when non-empty)."""
    from ledger.hooks.spool import Spool

    settings = settings_from(ctx)
    info = Spool(settings.spool_dir).status()
    if json_out:
        emit_json(dataclasses.asdict(info))
        return
    typer.echo(f"spool: {info.directory}")
    typer.echo(
        f"waiting: {info.events} events in {info.files} files ({info.bytes} bytes)"
        + (f", oldest {info.oldest}" if info.oldest else "")
    )
    if info.locked_files:
        typer.echo(f"in use by a live writer: {info.locked_files} files")
    if info.failed_files:
        typer.echo(f"refused by the database (kept in failed/): {info.failed_files} files")
    if info.rejected:
        typer.echo(f"rejected by the sequencer after submit: {info.rejected} events "
                   "(reasons in rejected.log)")


@app.command("flush")
def flush(
    ctx: typer.Context,
    sequence: Annotated[
        bool,
        typer.Option(
            "--sequence/--no-sequence", help="Sequence the delivered events into the log now."
        ),
    ] = True,
) -> None:
    """Deliver every spooled event to the database, in write order, then remove the files."""
    from ledger.db.connect import connect
    from ledger.hooks.spool import Spool
    from ledger.store.door import append_encoded
    from ledger.store.sequencer import try_sequence

    settings = settings_from(ctx)
    conn = connect(settings, migrate=True)

    def submit(items: Sequence[EncodedEvent]) -> object:
        return append_encoded(conn, items).receipts

    with conn:
        result = Spool(settings.spool_dir).flush(submit, settings.origin, settings.tenant)
        sequenced = try_sequence(conn, settings) if sequence and result.delivered else 0
    typer.echo(
        f"delivered {result.delivered} events from {result.files} files"
        + (f"; sequenced {sequenced}" if sequence else "")
    )
    if result.gaps:
        typer.echo(f"recorded {result.gaps} ledger.gap events for unreadable or refused data")
    if result.skipped_locked:
        typer.echo(f"skipped {result.skipped_locked} files still in use by a live writer")
    for line in result.errors:
        err(f"error: {line}")
    if result.unavailable:
        raise typer.Exit(int(ExitCode.DATABASE))
    if result.quarantined:
        raise typer.Exit(int(ExitCode.INVALID))
