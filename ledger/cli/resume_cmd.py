"""`ledger resume`: lift the stops of one target (same options as `ledger stop`).

Lifting needs a `resume` grant (and the principal's signature) when a registry is in force; a
writer credential can never lift (ledger.stops refuses it before writing anything).
"""

from __future__ import annotations

import getpass

import typer

from ledger.cli.common import JsonOption, TrustRootOption, connection, emit_json, say, settings_from
from ledger.cli.stop_cmd import (
    AgentOpt,
    AsOpt,
    KeyOpt,
    ModelOpt,
    PromptOpt,
    ReasonOpt,
    RunArg,
    TenantOpt,
    ToolOpt,
    done_json,
    target_of,
)

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("resume")
def resume(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    run_id: RunArg = None,
    agent: AgentOpt = None,
    tenant: TenantOpt = None,
    tool: ToolOpt = None,
    model: ModelOpt = None,
    prompt: PromptOpt = None,
    reason: ReasonOpt = "",
    as_: AsOpt = None,
    key: KeyOpt = None,
    trust_root: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Lift the active stops of exactly this target (same options as `ledger stop`)."""
    from ledger.authority.trust import trust_root as load_root
    from ledger.stops import lift_stop

    target = target_of(run_id, {"agent": agent, "tenant": tenant, "tool": tool,
                                "model": model, "prompt": prompt})  # fmt: skip
    settings = settings_from(ctx)
    done = lift_stop(
        connection(ctx), settings, target=target, reason=reason,
        lifted_by=as_ or getpass.getuser(), root=load_root(trust_root), via="cli", key=key,
    )  # fmt: skip
    if json_out:
        emit_json(done_json(done, "resume"))
        return
    signed = "signed" if done.signed else "unsigned"
    say(f"resumed {done.target} in {done.origin} ({done.authority}, {signed}): lifted "
        f"{len(done.lifts)} stop(s)")  # fmt: skip
