"""`ledger ingest FILE|-`: append events given as JSON Lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import JsonOption, connection, emit_json, err, settings_from
from ledger.errors import ExitCode, InputError

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="JSON Lines file, or - for standard input.")],
    json_out: JsonOption = False,
) -> None:
    """Append events from JSON Lines (schema: docs/events.md). Bad lines are reported by number.

    Exit 0 when every line was stored, 1 when any line was rejected (the others are stored).
    """
    from ledger.ingest import ingest_lines
    from ledger.store.sequencer import try_sequence

    settings = settings_from(ctx)
    if source == "-":
        stream = sys.stdin.buffer
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"no such file: {source}")
        stream = path.open("rb")
    conn = connection(ctx)
    with stream:
        result = ingest_lines(conn, stream, settings)
    sequenced = try_sequence(conn, settings, wait=True)
    for number, reason in result.errors:
        err(f"line {number}: {reason}")
    summary = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": len(result.errors),
        "sequenced": sequenced,
    }
    if json_out:
        emit_json({**summary, "errors": [{"line": n, "reason": r} for n, r in result.errors]})
    else:
        err(
            f"ingested {result.accepted} events ({result.duplicates} already present, "
            f"{len(result.errors)} rejected)"
        )
    if result.errors:
        raise typer.Exit(int(ExitCode.INVALID))
