"""`ledger verify-bundle`: check an evidence bundle offline.

It needs no database: it imports the offline verifier only (no psycopg use).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import JsonOption, TrustRootOption, emit_json, err
from ledger.errors import ExitCode, InputError
from ledger.terminal import printable

if TYPE_CHECKING:
    from exporters.bundle_report import BundleReport

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
    trust_root_file: TrustRootOption = None,
) -> None:
    """Verify an evidence bundle offline: digests, DSSE, checkpoints, proofs, leaves, populations.

    With `--trust-root` (the administrator keys you trust), also judge the principal registries
    and every approval of the period from the record (the `authority` section). Unsigned or
    forged approvals are findings about the agent, not about the bundle: they do not change the
    exit code. Exit 0 when valid, 1 when not (each problem names the file/row and the reason).
    """
    from exporters.bundle_verify import verify_bundle as run
    from ledger.authority.trust import trust_root

    if trust is not None and not trust.is_file():
        raise InputError(f"no such file: {trust}")
    report = run(directory, trust, trust_root(trust_root_file))
    if json_out:
        emit_json(report.as_dict())
    else:
        _human(report)
    if not report.valid:
        raise typer.Exit(int(ExitCode.INVALID))


def _human(report: BundleReport) -> None:
    """The verdict, then the authority section (its own lines: a finding is not a problem)."""
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
            typer.echo(f"  {printable(problem.line())}")
    authority = report.authority
    typer.echo(f"authority: {authority.summary()}")
    for refused in authority.registries_refused:
        typer.echo(f"  registry at seq {refused.seq} refused: {printable(refused.reason)}")
    for finding in authority.findings:
        typer.echo(f"  {printable(finding.line())}")
    for identity in authority.identities.findings:
        typer.echo(f"  {printable(identity.line())}")
