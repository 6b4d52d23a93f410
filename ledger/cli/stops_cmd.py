"""`ledger stops`: the stops in force (and the lines `ledger runs` prints above its table)."""

from __future__ import annotations

from typing import Any

import typer

from ledger.cli.common import JsonOption, connection, emit_json, say, settings_from, table

__all__ = ["app", "stop_lines"]

app = typer.Typer(add_completion=False)


def stop_lines(stops: list[Any]) -> list[str]:
    """One line per active stop: target, by, authority, since, reason (raw: callers escape)."""
    return [
        f"stopped: {s.target} by {s.requested_by} ({s.authority}) since {s.recorded_at}"
        + (f": {s.reason}" if s.reason else "")
        for s in stops
    ]


@app.command("stops")
def stops(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """List the active stops: target, by, authority, since, reason."""
    from ledger.stopsread import active_stops

    found = active_stops(connection(ctx), settings_from(ctx))
    if json_out:
        emit_json([
            {"target": s.target, "requested_by": s.requested_by, "reason": s.reason,
             "authority": s.authority, "since": s.recorded_at, "origin": s.origin,
             "stop_event_id": str(s.stop_event_id)}
            for s in found
        ])  # fmt: skip
        return
    if not found:
        say("no active stops")
        return
    typer.echo(table(
        [[s.target, s.origin or "-", s.requested_by, s.authority, s.recorded_at or "-",
          s.reason] for s in found],
        ["TARGET", "LOG", "BY", "AUTHORITY", "SINCE", "REASON"],
    ))  # fmt: skip
