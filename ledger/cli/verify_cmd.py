"""`ledger verify`: recompute the whole ledger and say whether it is intact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import JsonOption, about, connection, settings_from
from ledger.errors import ExitCode, InputError, KeyUnavailable

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("verify")
def verify(
    ctx: typer.Context,
    pin: Annotated[
        Path | None,
        typer.Option("--pin", help="A checkpoint note saved earlier (`ledger checkpoint > FILE`)."),
    ] = None,
    trust: Annotated[
        list[Path] | None,
        typer.Option("--trust", help="File of trusted log vkeys (one per line); repeatable."),
    ] = None,
    witness_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--witness-key",
            help="Witness vkey file; the latest checkpoint must be cosigned by it.",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Recompute every leaf, run chain, tree root and checkpoint signature.

    Exit 0 when valid, 1 when not (naming the first bad seq), 2 for usage errors, 3 when the
    database cannot be reached, 4 when no trusted log key is available.
    """
    from ledger.trustroot import pin_or_rewritten, pinned_rewritten
    from ledger.verify import dumps, report_line, trusted_verifiers, verify_ledger
    from ledger.witness import CosignatureVerifier

    settings = settings_from(ctx)
    trust, witness_key = trust or [], witness_key or []
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
        with about(f"pinned checkpoint {pin} is not valid"):
            opened = pin_or_rewritten(pin.read_bytes(), verifiers)
        if isinstance(opened, str):
            typer.echo(pinned_rewritten(opened, json_out))
            raise typer.Exit(int(ExitCode.INVALID))
        pinned = opened
    with about("bad witness key file"):
        witnesses = [
            CosignatureVerifier.from_vkey(line.strip())
            for path in witness_key
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
    report = verify_ledger(
        connection(ctx, migrate=False),
        settings,
        verifiers=verifiers,
        pin=pinned,
        witnesses=witnesses,
    )
    typer.echo(dumps(report) if json_out else report_line(report))
    if report.status != "ok":
        raise typer.Exit(int(ExitCode.INVALID))
