"""`ledger policy publish FILE` and `ledger policy list [--json]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    connection,
    emit_json,
    input_argument,
    settings_from,
    table,
)

__all__ = ["app"]

app = typer.Typer(
    help="Publish and list policy packs.", no_args_is_help=True, add_completion=False
)


@app.command("publish")
def publish(
    ctx: typer.Context,
    file: Annotated[Path, input_argument("Policy pack YAML.")],
    json_out: JsonOption = False,
) -> None:
    """Validate a pack and publish it to the ledger under its content hash."""
    from replay.policy.loader import load_pack
    from replay.policy.published import publish_policy

    done = publish_policy(connection(ctx), settings_from(ctx), load_pack(file))
    if json_out:
        emit_json(
            {
                "policy_hash": done.policy_hash,
                "name": done.name,
                "version": done.version,
                "event_id": str(done.event_id) if done.event_id else None,
                "already_published": done.already_published,
            }
        )
    else:
        state = "already published" if done.already_published else "published"
        typer.echo(f"{done.policy_hash}  {done.name} {done.version}  {state}")


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Published packs in log order: hash, name, version, seq."""
    from ledger.store.policies import published_policies

    rows = published_policies(connection(ctx))
    if json_out:
        emit_json(
            [
                {"seq": p.seq, "policy_hash": p.policy_hash, "name": p.name, "version": p.version}
                for p in rows
            ]
        )
        return
    typer.echo(
        table(
            [[p.policy_hash, p.name, p.version, str(p.seq)] for p in rows],
            ["POLICY_HASH", "NAME", "VERSION", "SEQ"],
        )
    )
