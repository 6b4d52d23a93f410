"""`ledger policy publish FILE` and `ledger policy list [--json]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import JsonOption, connection, emit_json, settings_from, table

__all__ = ["app"]

app = typer.Typer(
    help="Publish and list policy packs.", no_args_is_help=True, add_completion=False
)


@app.command("publish")
def publish(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Policy pack YAML.")],
    json_out: JsonOption = False,
) -> None:
    """Validate a pack and publish it to the ledger under its content hash."""
    from replay.ledgerdb import publish_policy, published_policies
    from replay.policy.loader import load_pack

    loaded = load_pack(file)
    conn = connection(ctx)
    existing = {e.data.policy_hash for _, e in published_policies(conn)}
    event_id = None
    if loaded.policy_hash not in existing:
        event_id = publish_policy(conn, settings_from(ctx), loaded)
    if json_out:
        emit_json(
            {
                "policy_hash": loaded.policy_hash,
                "name": loaded.name,
                "version": loaded.version,
                "event_id": event_id,
                "already_published": event_id is None,
            }
        )
    else:
        state = "already published" if event_id is None else "published"
        typer.echo(f"{loaded.policy_hash}  {loaded.name} {loaded.version}  {state}")


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Published packs in log order: hash, name, version, seq."""
    from replay.ledgerdb import published_policies

    rows = [(seq, e.data) for seq, e in published_policies(connection(ctx))]
    if json_out:
        emit_json(
            [
                {"seq": s, "policy_hash": d.policy_hash, "name": d.name, "version": d.version}
                for s, d in rows
            ]
        )
        return
    typer.echo(
        table(
            [[d.policy_hash, d.name, d.version, str(s)] for s, d in rows],
            ["POLICY_HASH", "NAME", "VERSION", "SEQ"],
        )
    )
