"""`ledger runs` and `ledger show RUN_ID`."""

from __future__ import annotations

import orjson
import typer

from ledger.cli import app
from ledger.cli.common import JsonOption, connection, emit_json, parse_run_id, table
from ledger.errors import InputError
from ledger.store.read import list_runs, run_events


@app.command("runs")
def runs(ctx: typer.Context, json_out: bool = JsonOption) -> None:
    """List runs: id, agent, initiating user, started, status, event count."""
    found = list_runs(connection(ctx))
    if json_out:
        emit_json([{**r.__dict__, "run_id": str(r.run_id)} for r in found])
        return
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


@app.command("show")
def show(ctx: typer.Context, run_id: str, json_out: bool = JsonOption) -> None:
    """Print a run's events in order."""
    rid = parse_run_id(run_id)
    stored = run_events(connection(ctx), rid)
    if not stored:
        raise InputError(f"no run {rid} in the ledger")
    if json_out:
        emit_json(
            [
                {"seq": s.seq, "leaf_hash": s.leaf_hash.hex(), "event": orjson.loads(s.body)}
                for s in stored
            ]
        )
        return
    for s in stored:
        e = s.event
        data = e.model_dump(mode="json", exclude_none=True).get("data", {})
        detail = (
            data.get("tool") or data.get("name") or data.get("status") or data.get("content", "")
        )
        typer.echo(
            f"{s.seq:>8}  {e.run_seq:>4}  {e.occurred_at[:23]}Z  {e.type:<20} {str(detail)[:60]}"
        )
