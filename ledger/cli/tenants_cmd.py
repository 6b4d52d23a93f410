"""`ledger tenants add|list|detach`: tenants and their partitions (docs/partitions.md).

`add T` lists a tenant; `add T --own-partition [--range-size N]` gives it a partition of its
own in every log table (rows it already has move out of the DEFAULT partition in one
transaction, owner only) and records `partition.created`. `list` shows each tenant's origin,
partition, seq ranges, rows and detached ranges. `detach T` detaches a finished tenant's
partitions after recording `partition.detached` in its log; refused while intake holds its
events. Every change goes through the one service, ledger.partitions.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger.cli.common import (
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    say,
    settings_from,
    table,
)

__all__ = ["app"]

app = typer.Typer(add_completion=False, help="Tenants and their partitions: add, list, detach.")

TenantArg = Annotated[str, typer.Argument(metavar="T", help="The tenant name.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded).")]
SignWithOpt = Annotated[
    str | None,
    typer.Option("--sign-with", metavar="KEY",
                 help="Sign the record with this key file or pkcs11: URI (the registry's "
                      "service_key; without one the record is `asserted`)."),
]  # fmt: skip


def _authority(sign_with: str | None, trust_root_file: str | None) -> dict[str, Any]:
    from ledger.authority.trust import trust_root
    from ledger.gates import load_gate_signer

    signer = load_gate_signer(sign_with) if sign_with else None
    return {"signer": signer, "root": trust_root(trust_root_file)}


@app.command("add")
def add(  # noqa: PLR0917 - click passes options by keyword; the order is the help's
    ctx: typer.Context,
    tenant: TenantArg,
    own: Annotated[
        bool, typer.Option("--own-partition", help="Give it a partition of its own (owner only).")
    ] = False,
    range_size: Annotated[
        int, typer.Option("--range-size", metavar="N", help="Events per seq range partition.")
    ] = 1_048_576,
    reason: ReasonOpt = "",
    sign_with: SignWithOpt = None,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a tenant, with --own-partition in partitions of its own (existing rows move)."""
    from ledger.partitions import add_tenant

    done = add_tenant(
        connection(ctx), settings_from(ctx), tenant, own=own, range_size=range_size,
        reason=reason, **_authority(sign_with, trust_root_file),
    )  # fmt: skip
    if json_out:
        emit_json({"tenant": done.tenant, "origin": done.origin, "own_partition":
                   done.own_partition, "range_size": done.range_size, "moved": done.moved,
                   "event_id": done.event_id, "authority": done.authority,
                   "already": done.already})  # fmt: skip
        return
    moved = f", {done.moved} events moved" if done.moved else ""
    said = f"; recorded: {done.authority}" if done.authority else ""
    say(f"tenant {done.tenant} ({done.origin}): {done.state()}{moved}{said}")


def _row_json(r: Any) -> dict[str, Any]:
    return {
        "tenant": r.tenant, "origin": r.origin, "own_partition": r.own_partition,
        "range_size": r.range_size, "rows": r.rows, "intake": r.intake,
        "detached_at": r.detached_at,
        "ranges": [{"table": s.table, "lo": s.lo, "hi": s.hi, "attached": s.attached}
                   for s in r.ranges],
    }  # fmt: skip


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """List tenants: origin, partition (own or default), ranges, rows, detached ranges."""
    from ledger.partitions import tenants

    found = tenants(connection(ctx, migrate=False), settings_from(ctx))
    if json_out:
        emit_json([_row_json(r) for r in found])
        return
    if not found:
        say("no tenants")
        return
    rows = []
    for r in found:
        part = ("own" if r.own_partition else "default") + (" (detached)" if r.detached_at else "")
        detached = ",".join(f"{s.lo}-{s.hi}" for s in r.detached_ranges) or "-"
        attached = sum(1 for s in r.ranges if s.attached)
        rows.append([r.tenant, r.origin, part, f"{attached} x {r.range_size}", str(r.rows),
                     detached])  # fmt: skip
    typer.echo(table(rows, ["TENANT", "ORIGIN", "PARTITION", "RANGES", "ROWS", "DETACHED"]))


@app.command("detach")
def detach(  # noqa: PLR0917 - click passes options by keyword; the order is the help's
    ctx: typer.Context,
    tenant: TenantArg,
    reason: ReasonOpt = "",
    sign_with: SignWithOpt = None,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Detach a finished tenant's partitions (recorded as partition.detached first)."""
    from ledger.partitions import detach as detach_tenant

    done = detach_tenant(connection(ctx), settings_from(ctx), tenant, reason=reason,
                         **_authority(sign_with, trust_root_file))  # fmt: skip
    if json_out:
        emit_json({"tenant": done.tenant, "origin": done.origin, "event_id": done.event_id,
                   "size": done.size, "tables": list(done.tables),
                   "authority": done.authority})  # fmt: skip
        return
    say(f"tenant {done.tenant} detached at size {done.size}: {', '.join(done.tables)}; "
        f"recorded: {done.authority}")
