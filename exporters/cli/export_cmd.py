"""`ledger export`: a signed SOC 2 evidence bundle, or a SIEM/metrics feed, for a period.

The exporter registry and pyarrow are imported inside the command, so `ledger --help` does not
load them.
"""

from __future__ import annotations

import getpass
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    emit_json,
    read_connection,
    settings_from,
    time_option,
)
from ledger.errors import InputError

__all__ = ["ProgressBar", "app"]

app = typer.Typer(add_completion=False)


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


@app.command("export")
def export(  # noqa: PLR0917 (typer options)
    ctx: typer.Context,
    since: Annotated[str, time_option("--since", "Period start (inclusive)")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (new or empty).")],
    until: Annotated[
        str, time_option("--until", "Period end (exclusive; default: now)")
    ] = "now",
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant log (default: configured one).")
    ] = None,
    controls: Annotated[
        str | None,
        typer.Option(
            "--controls",
            help="Comma-separated SOC 2 controls, e.g. CC6.1,CC8.1 (default all).",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help="bundle (evidence bundle), jsonl, ocsf or otel-metrics."),
    ] = "bundle",
    no_record: Annotated[
        bool,
        typer.Option("--no-record", help="Do not append the export.created event (bundle only)."),
    ] = False,
    no_identity_tokens: Annotated[
        bool,
        typer.Option(
            "--no-identity-tokens",
            help="Leave the recorded identity tokens out of the bundle (the verifier then "
            "reports those principals as asserted: token not disclosed).",
        ),
    ] = False,
    as_: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Export the events of a period: a signed SOC 2 evidence bundle or a SIEM/metrics feed."""
    from exporters.bundle import ExportParams
    from exporters.registry import get
    from ledger.ids import format_timestamp
    from ledger.when import parse_time_ns

    try:
        exporter = get(fmt)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    params = ExportParams(
        since=format_timestamp(parse_time_ns(since, "--since")),
        until=format_timestamp(parse_time_ns(until, "--until")),
        out=out,
        tenant=tenant,
        controls=tuple(c.strip() for c in (controls or "").split(",") if c.strip()),
        record=not no_record,
        identity_tokens=not no_identity_tokens,
        exported_by=as_ or getpass.getuser(),
    )
    bar = ProgressBar(f"export {fmt}")
    try:
        summary = exporter.run(read_connection(ctx), settings_from(ctx), params, bar)
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
