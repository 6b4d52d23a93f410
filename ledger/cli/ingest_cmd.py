"""`ledger ingest FILE|-`: append events given as JSON Lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import JsonOption, connection, emit_json, err, input_argument, settings_from
from ledger.errors import ExitCode
from ledger.terminal import printable

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    source: Annotated[str, input_argument("JSON Lines file, or - for standard input.")],
    json_out: JsonOption = False,
) -> None:
    """Append events from JSON Lines (schema: docs/events.md). Bad lines are reported by number.

    Every line ends sequenced, already present (same event_id and bytes) or rejected with a
    reason; after a rejected line, later lines of the same run are rejected too. Exit 0 when no
    line was rejected, 1 when any was (the others are stored). --json: one entry per line.
    """
    from ledger.ingest import ALREADY_PRESENT, SEQUENCED, SUBMITTED
    from ledger.ingest import ingest as ingest_events

    settings = settings_from(ctx)
    if source == "-":
        stream = sys.stdin.buffer
    else:
        stream = Path(source).open("rb")
    conn = connection(ctx)
    with stream:
        result = ingest_events(conn, stream, settings)
    rejected = result.rejected
    for line in rejected:
        err(printable(f"line {line.line}: {line.reason}"))
    counts = {
        "sequenced": result.count(SEQUENCED),
        "already_present": result.count(ALREADY_PRESENT),
        "rejected": len(rejected),
    }
    if waiting := result.count(SUBMITTED):  # a writer-only role: `ledger serve` sequences them
        counts["submitted"] = waiting
    if json_out:
        emit_json({**counts, "lines": [line.as_json() for line in result.lines]})
    err(
        f"{counts['sequenced']} sequenced, {counts['already_present']} already present, "
        f"{counts['rejected']} rejected"
        + (f", {waiting} submitted (waiting for the sequencer)" if waiting else "")
    )
    if rejected:
        raise typer.Exit(int(ExitCode.INVALID))
