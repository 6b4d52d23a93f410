"""`ledger verify-bundle`: check an evidence bundle offline.

It needs no database: it imports the offline verifier only (no psycopg use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import JsonOption, emit_json, err
from ledger.errors import ExitCode, InputError

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("verify-bundle")
def verify_bundle(
    directory: Annotated[
        Path, typer.Argument(help="Bundle directory written by `ledger export`.")
    ],
    trust: Annotated[
        Path | None,
        typer.Option(
            "--trust", help="Trusted keys: a trust.json or a file of vkeys (one per line)."
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Verify an evidence bundle offline: digests, DSSE, checkpoints, proofs, leaves, populations.

    Exit 0 when valid, 1 when not (each problem names the file/row and the reason).
    """
    from exporters.bundle_verify import verify_bundle as run

    if trust is not None and not trust.is_file():
        raise InputError(f"no such file: {trust}")
    report = run(directory, trust)
    if json_out:
        emit_json(report.as_dict())
    else:
        for warning in report.warnings:
            err(f"warning: {warning}")
        if report.valid:
            typer.echo(
                f"OK: bundle valid: {report.events} events, {report.leaves} leaves, "
                f"{len(report.populations)} populations re-derived; "
                + "; ".join(f"{k}: {v}" for k, v in report.checks.items())
            )
        else:
            typer.echo(f"INVALID: {report.total_problems} problem(s)")
            for problem in report.problems:
                typer.echo(f"  {problem.line()}")
    if not report.valid:
        raise typer.Exit(int(ExitCode.INVALID))
