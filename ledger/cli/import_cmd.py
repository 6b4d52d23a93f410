"""`ledger import phoenix|langfuse`: bring history from other tracing systems into the ledger.

Imported events say `trust: imported` (copied afterwards, not witnessed), carry their source
ids and record hash, and have ids derived from the source, so importing twice stores nothing
twice. Every import prints a reconciliation report; an empty window is an error unless
`--allow-empty`, and counts that disagree (gaps) make the exit code 1.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    connection,
    emit_json,
    err,
    input_argument,
    settings_from,
    time_option,
    when,
)
from ledger.errors import ExitCode, InputError

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.importers.report import ImportReport

__all__ = ["app"]

app = typer.Typer(help="Import history from Phoenix or Langfuse (trust: imported).",
                  no_args_is_help=True, add_completion=False)

AllowEmpty = Annotated[bool, typer.Option(
    "--allow-empty", help="An empty window is not an error (exit 0 when nothing was read).")]
TenantOption = Annotated[str | None, typer.Option(
    "--tenant", help="Whose log the history goes to (default: $LEDGER_TENANT or default).")]


def _settings(ctx: typer.Context, tenant: str | None) -> Settings:
    """The command's settings with the tenant the imported runs belong to, checked first: a
    bad name is a one-line error before anything is read or stored."""
    from ledger.events import TENANT_PATTERN

    settings = settings_from(ctx)
    name = tenant or settings.tenant
    if not re.fullmatch(TENANT_PATTERN, name):
        raise InputError(f"--tenant: {name!r} is not a tenant name ({TENANT_PATTERN})")
    return dataclasses.replace(settings, tenant=name)


def _finish(report: ImportReport, json_out: bool, allow_empty: bool) -> None:
    if json_out:
        emit_json(report.as_json())
    for skipped in report.skipped[:20]:
        err(f"skipped {skipped.record}: {skipped.reason}")
    if len(report.skipped) > 20:
        err(f"... and {len(report.skipped) - 20} more skipped (see --json)")
    for gap in report.gaps:
        err(f"gap in {gap.scope}: expected {gap.expected}, read {gap.seen}: {gap.reason}")
    err(report.summary())
    if report.empty and not allow_empty:
        err("nothing to import in this window (pass --allow-empty if that is expected)")
        raise typer.Exit(int(ExitCode.INVALID))
    if report.skipped or report.gaps:
        raise typer.Exit(int(ExitCode.INVALID))


@app.command("phoenix")
def phoenix(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", help="Phoenix server, e.g. http://127.0.0.1:6006")],
    project: Annotated[str, typer.Option("--project", help="Phoenix project name.")] = "default",
    since: Annotated[str | None, time_option("--since", "Spans starting at/after")] = None,
    until: Annotated[str | None, time_option("--until", "Spans starting before")] = None,
    allow_empty: AllowEmpty = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Import a Phoenix project's spans (REST API), one ledger run per trace.

    Exit 0 when every span seen was imported or already present; 1 when any was skipped, a
    parent span is missing (a gap), or the window is empty (unless --allow-empty).
    """
    from ledger.importers.phoenix import read_phoenix
    from ledger.importers.report import ImportReport
    from ledger.importers.staging import Staging
    from ledger.importers.store import store_staged

    window = {"since": since, "until": until}
    start, end = when(since, "--since"), when(until, "--until")
    settings = _settings(ctx, tenant)
    report = ImportReport(source=f"phoenix {url} project {project}", window=window)
    conn = connection(ctx)
    with Staging() as staging:
        read_phoenix(url, project, since=start, until=end, staging=staging, report=report)
        store_staged(conn, settings, staging, report)
    _finish(report, json_out, allow_empty)


@app.command("langfuse")
def langfuse(
    ctx: typer.Context,
    source: Annotated[
        Path, input_argument("Export file or directory (.json, .jsonl).", kind="any")
    ],
    allow_empty: AllowEmpty = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Import Langfuse exports: public-API JSON pages or blob-export JSONL, one run per trace.

    Exit 0 when every observation seen was imported or already present; 1 when any was
    skipped, counts disagree with what the export declared (a gap), or nothing was read
    (unless --allow-empty).
    """
    from ledger.importers.langfuse import read_langfuse
    from ledger.importers.report import ImportReport
    from ledger.importers.staging import Staging
    from ledger.importers.store import store_staged

    settings = _settings(ctx, tenant)
    report = ImportReport(source=f"langfuse {source}")
    conn = connection(ctx)
    with Staging() as staging:
        read_langfuse(source, staging, report)
        store_staged(conn, settings, staging, report)
    _finish(report, json_out, allow_empty)
