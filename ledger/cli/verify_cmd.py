"""`ledger verify` and `ledger checkpoint`."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.cli import app
from ledger.cli.common import JsonOption, connection, err, settings_from
from ledger.errors import ExitCode, InputError, KeyUnavailable
from ledger.note import NoteError
from ledger.store.read import latest_checkpoint
from ledger.verify import dumps, load_pin, report_line, trusted_verifiers, verify_ledger


@app.command("verify")
def verify(
    ctx: typer.Context,
    pin: Path = typer.Option(
        None, "--pin", help="A checkpoint note saved earlier (`ledger checkpoint > FILE`)."
    ),
    trust: list[Path] = typer.Option(
        [], "--trust", help="File of trusted log vkeys (one per line); repeatable."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Recompute every leaf, run chain, tree root and checkpoint signature.

    Exit 0 when valid, 1 when not (naming the first bad seq), 2 for usage errors, 3 when the
    database cannot be reached, 4 when no trusted log key is available.
    """
    settings = settings_from(ctx)
    for path in [*trust, *([pin] if pin else [])]:
        if not path.is_file():
            raise InputError(f"no such file: {path}")
    verifiers = trusted_verifiers(settings, trust)
    if not verifiers:
        raise KeyUnavailable(
            f"no trusted log key: {settings.log_key_path}.pub is missing; pass --trust FILE"
        )
    pinned = None
    if pin is not None:
        try:
            pinned = load_pin(pin, verifiers)
        except (NoteError, ValueError) as exc:
            raise InputError(f"pinned checkpoint {pin} is not valid: {exc}") from None
    report = verify_ledger(connection(ctx), settings, verifiers=verifiers, pin=pinned)
    if json_out:
        typer.echo(dumps(report))
    else:
        typer.echo(report_line(report))
    if report.status != "ok":
        raise typer.Exit(int(ExitCode.INVALID))


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    tenant: str = typer.Option(None, "--tenant", help="Tenant log (default: the configured one)."),
) -> None:
    """Print the latest signed checkpoint note; save it and pass it to `verify --pin` later."""
    settings = settings_from(ctx)
    origin = settings.origin(tenant)
    latest = latest_checkpoint(connection(ctx), origin)
    if latest is None:
        err(f"no checkpoint yet for {origin}: the log is empty")
        raise typer.Exit(int(ExitCode.INVALID))
    typer.echo(latest.note, nl=False)
