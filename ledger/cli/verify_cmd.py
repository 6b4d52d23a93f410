"""`ledger verify` and `ledger checkpoint`."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.cli import app
from ledger.cli.common import JsonOption, connection, err, settings_from
from ledger.errors import ExitCode, InputError, KeyUnavailable
from ledger.note import NoteError
from ledger.verify import dumps, load_pin, report_line, trusted_verifiers, verify_ledger
from ledger.witness import CosignatureVerifier


@app.command("verify")
def verify(
    ctx: typer.Context,
    pin: Path = typer.Option(
        None, "--pin", help="A checkpoint note saved earlier (`ledger checkpoint > FILE`)."
    ),
    trust: list[Path] = typer.Option(
        [], "--trust", help="File of trusted log vkeys (one per line); repeatable."
    ),
    witness_key: list[Path] = typer.Option(
        [], "--witness-key", help="Witness vkey file; the latest checkpoint must be cosigned by it."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Recompute every leaf, run chain, tree root and checkpoint signature.

    Exit 0 when valid, 1 when not (naming the first bad seq), 2 for usage errors, 3 when the
    database cannot be reached, 4 when no trusted log key is available.
    """
    settings = settings_from(ctx)
    for path in [*trust, *witness_key, *([pin] if pin else [])]:
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
    try:
        witnesses = [
            CosignatureVerifier.from_vkey(line.strip())
            for path in witness_key
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
    except NoteError as exc:
        raise InputError(f"bad witness key file: {exc}") from None
    report = verify_ledger(
        connection(ctx, migrate=False),
        settings,
        verifiers=verifiers,
        pin=pinned,
        witnesses=witnesses,
    )
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
    """Print the latest signed checkpoint note (with witness cosignatures when stored).

    Save it and pass it to `verify --pin` later, or feed it to `ledger witness cosign`.
    """
    from ledger.proofs import ProofUnavailable, checkpoint_row

    settings = settings_from(ctx)
    origin = settings.origin(tenant)
    conn = connection(ctx, migrate=False)
    try:
        note = checkpoint_row(conn, origin)[2]
    except ProofUnavailable:
        err(f"no checkpoint yet for {origin}: the log is empty")
        raise typer.Exit(int(ExitCode.INVALID)) from None
    typer.echo(note, nl=False)
