"""`ledger checkpoint`: the latest signed checkpoint note, to pin or to hand to a witness."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli.common import connection, settings_from

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant log (default: the configured one).")
    ] = None,
) -> None:
    """Print the latest signed checkpoint note (with witness cosignatures when stored).

    Save it and pass it to `verify --pin` later, or feed it to `ledger witness cosign`.
    """
    from ledger.proofs import checkpoint_row

    origin = settings_from(ctx).origin(tenant)
    typer.echo(checkpoint_row(connection(ctx, migrate=False), origin)[2], nl=False)
