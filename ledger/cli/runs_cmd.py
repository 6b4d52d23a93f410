"""`ledger runs`: the runs in the ledger, oldest first."""

from __future__ import annotations

import typer

from ledger.cli.common import JsonOption, connection, emit_json, say, settings_from, table

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("runs")
def runs(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """List runs: id, agent, initiating user, started, status, event count; above them, the
    active stops (`ledger stops`), one line each (a run's stop once it ended is moot: not shown)."""
    from ledger.cli.stops_cmd import stop_lines
    from ledger.stops import active_stops
    from ledger.store.read import list_runs

    conn = connection(ctx)
    found = list_runs(conn)
    if json_out:
        emit_json([{**r.__dict__, "run_id": str(r.run_id)} for r in found])
        return
    ended = {f"run:{r.run_id}" for r in found if r.status not in ("running", "suspended")}
    live = [s for s in active_stops(conn, settings_from(ctx)) if s.target not in ended]
    for line in stop_lines(live):
        say(line)
    typer.echo(
        table(
            [
                [
                    str(r.run_id),
                    r.agent or "-",
                    r.initiating_user or "-",
                    r.started_at[:19] + "Z",
                    r.status,
                    str(r.event_count),
                ]
                for r in found
            ],
            ["RUN", "AGENT", "USER", "STARTED", "STATUS", "EVENTS"],
        )
    )
