"""`ledger verify-bundle`: check an evidence bundle offline.

It needs no database: it imports the offline verifier only (no psycopg use).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    TrustRootOption,
    emit_json,
    err,
    input_argument,
    input_option,
)
from ledger.errors import ExitCode, InputError
from ledger.terminal import printable

if TYPE_CHECKING:
    from exporters.bundle_report import BundleReport

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("verify-bundle")
def verify_bundle(
    directory: Annotated[
        Path, input_argument("Bundle directory written by `ledger export`.", kind="dir")
    ],
    trust: Annotated[
        list[Path] | None,
        input_option(
            "--trust",
            help="Trusted log/export keys obtained out of band: a trust.json or a file of "
            "vkeys (one per line); repeatable. Without it the verdict is at best UNTRUSTED.",
        ),
    ] = None,
    witness_key: Annotated[
        list[Path] | None,
        input_option(
            "--witness-key",
            help="Witness vkey file; the end checkpoint must carry its cosignature.",
        ),
    ] = None,
    json_out: JsonOption = False,
    trust_root_file: TrustRootOption = None,
) -> None:
    """Verify an evidence bundle offline: digests, DSSE, checkpoints, proofs, leaves, populations.

    Keys inside the bundle prove nothing: without `--trust` a consistent bundle is UNTRUSTED
    (exit 5) and the fingerprints it claims are printed, to compare out of band. With
    `--trust-root` (the administrator keys you trust), also judge the principal registries
    and every approval of the period from the record (the `authority` section). Unsigned or
    forged approvals are findings about the agent, not about the bundle: they do not change the
    exit code. Exit 0 when valid under your keys, 1 when not (each problem names the file/row
    and the reason), 5 when consistent but not checked against keys you trust.
    """
    from exporters.bundle_verify import verify_bundle as run
    from ledger.authority.trust import trust_root
    from ledger.note import NoteError
    from ledger.witness import CosignatureVerifier

    trust, witness_key = trust or [], witness_key or []
    try:
        witnesses = [CosignatureVerifier.from_vkey(p.read_text()) for p in witness_key]
    except NoteError as exc:
        raise InputError(f"--witness-key: {exc}") from None
    report = run(directory, trust, trust_root(trust_root_file), witnesses)
    if json_out:
        emit_json(report.as_dict())
    else:
        _human(report)
    if not report.valid:
        raise typer.Exit(int(ExitCode.INVALID))
    if not report.trusted:
        raise typer.Exit(int(ExitCode.UNTRUSTED))


def _human(report: BundleReport) -> None:
    """The verdict, then the authority section (its own lines: a finding is not a problem)."""
    for warning in report.warnings:
        err(f"warning: {warning}")
    counts = printable(
        f"{report.events} events, {report.leaves} leaves, "
        f"{len(report.populations)} populations re-derived; "
        + "; ".join(f"{k}: {v}" for k, v in report.checks.items())
    )
    if report.valid and report.trusted:
        typer.echo(f"OK: bundle valid: {counts}")
    elif report.valid:
        typer.echo(
            "UNTRUSTED: consistent only under keys the bundle supplies itself "
            f"(keys/trust.json); pass --trust with keys obtained out of band: {counts}"
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
    for gate in authority.gate_findings:
        typer.echo(f"  {printable(gate.line())}")
    if report.valid and not report.trusted:
        typer.echo("keys the bundle claims (compare these fingerprints out of band):")
        for line in report.claimed_keys:
            typer.echo(f"  {printable(line)}")
