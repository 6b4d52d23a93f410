"""`ledger export` and `ledger verify-bundle`.

The lead registers these two functions on the root app: `app.command("export")(export.export)`
and `app.command("verify-bundle")(export_cmd.verify_bundle)`.
`verify-bundle` needs no database; it imports the offline verifier only (no psycopg use).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from ledger.cli.common import JsonOption, connection, emit_json, err, settings_from
from ledger.errors import ExitCode, InputError

__all__ = ["ProgressBar", "export", "verify_bundle"]


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most 5 times a second."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label, self.width = label, width
        self.started = self._last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and done < total:
            return
        self._last = now
        frac = done / total if total else 1.0
        fill = int(self.width * min(frac, 1.0))
        rate = done / max(now - self.started, 1e-9)
        sys.stderr.write(
            f"\r{self.label} [{'#' * fill}{'.' * (self.width - fill)}] "
            f"{done}/{total} events {rate:,.0f}/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def export(  # noqa: PLR0917 (typer options)
    ctx: typer.Context,
    since: str = typer.Option(..., "--since", help="Period start, RFC 3339 (inclusive)."),
    until: str = typer.Option(..., "--until", help="Period end, RFC 3339 (exclusive)."),
    out: Path = typer.Option(..., "--out", help="Output directory (new or empty)."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant log (default: configured one)."),
    controls: str = typer.Option(
        None, "--controls", help="Comma-separated SOC 2 controls, e.g. CC6.1,CC8.1 (default all)."
    ),
    fmt: str = typer.Option(
        "bundle", "--format", help="bundle (evidence bundle), jsonl, ocsf or otel-metrics."
    ),
    no_record: bool = typer.Option(
        False, "--no-record", help="Do not append the export.created event (bundle only)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Export the events of a period: a signed SOC 2 evidence bundle or a SIEM/metrics feed."""
    from exporters.bundle import ExportParams
    from exporters.registry import get

    try:
        exporter = get(fmt)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    params = ExportParams(
        since=since,
        until=until,
        out=out,
        tenant=tenant,
        controls=tuple(c.strip() for c in (controls or "").split(",") if c.strip()),
        record=not no_record,
    )
    bar = ProgressBar(f"export {fmt}")
    try:
        summary = exporter.run(connection(ctx, migrate=False), settings_from(ctx), params, bar)
    finally:
        bar.close()
    if json_out:
        emit_json(summary)
    else:
        typer.echo(
            f"exported {summary.get('events', 0)} events to {out} ({fmt})"
            + (
                f"; manifest sha256 {summary['manifest_sha256']}"
                if "manifest_sha256" in summary
                else ""
            )
        )


def verify_bundle(
    directory: Path = typer.Argument(..., help="Bundle directory written by `ledger export`."),
    trust: Path = typer.Option(
        None, "--trust", help="Trusted keys: a trust.json or a file of vkeys (one per line)."
    ),
    json_out: bool = JsonOption,
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
