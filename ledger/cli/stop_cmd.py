"""`ledger stop`, `ledger resume`, `ledger stops`: the kill switch from the command line.

`ledger stop RUN_ID` stops one run; `ledger stop --agent NAME[@VERSION] | --tenant T | --tool
GLOB | --model GLOB | --prompt NAME/VERSION` stops a scope (new and running runs) until `ledger
resume` with the same scope lifts it. Exactly one target. The event is recorded through the
one service (ledger.stops) and sequenced before the command returns, so agents learn of it at
once. With a registry in force (judged by --trust-root) the principal `--as` must hold a
`stop` (or `resume`) grant and sign with its approver key (`--key`, else the key `ledger keys
approver NAME` made); without one the stop is recorded as `asserted` by the local operator.
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from ledger.cli.common import JsonOption, TrustRootOption, connection, emit_json, say, settings_from
from ledger.errors import InputError

__all__ = ["app", "done_json", "target_of"]

app = typer.Typer(add_completion=False)

RunArg = Annotated[str | None, typer.Argument(metavar="RUN_ID", help="One run to stop.")]
AgentOpt = Annotated[
    str | None, typer.Option(
        "--agent", metavar="NAME[@VERSION]",
        help="Every run of an agent (of that version). Write '@' in NAME as %40 and '%' as %25: "
        "agent support@acme version 1.0 is --agent support%40acme@1.0.",
    ),
]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", metavar="T", help="Every run of a tenant.")
]
ToolOpt = Annotated[
    str | None, typer.Option("--tool", metavar="GLOB", help="Calls of matching tools.")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", metavar="GLOB", help="Runs and calls of matching models.")
]
PromptOpt = Annotated[
    str | None,
    typer.Option("--prompt", metavar="NAME/VERSION", help="Runs using that prompt version."),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded, shown to the agent).")]
AsOpt = Annotated[
    str | None,
    typer.Option("--as", metavar="PRINCIPAL", help="Who acts (default: the local OS user)."),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key", metavar="FILE|URI",
        help="Signing key file or pkcs11: URI (default: its `ledger keys approver` key).",
    ),
]  # fmt: skip


def target_of(run_id: str | None, scopes: dict[str, str | None]) -> str:
    """The one target the options name (`run:ID`, `agent:NAME`, ...); InputError otherwise."""
    given = [f"run:{run_id}"] if run_id else []
    given += [f"{kind}:{value}" for kind, value in scopes.items() if value]
    if len(given) != 1:
        raise InputError(
            "give exactly one target: RUN_ID, --agent, --tenant, --tool, --model or --prompt"
        )
    return given[0]


def done_json(done: Any, action: str) -> dict[str, Any]:
    return {
        "action": action, "event_id": str(done.event_id), "origin": done.origin,
        "target": done.target, "authority": done.authority, "signed": done.signed,
        "note": done.note, "lifts": [str(i) for i in done.lifts],
    }  # fmt: skip


@app.command("stop")
def stop(  # noqa: PLR0917 - typer maps parameters to options
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
    """Stop a run, or a scope until `ledger resume` lifts it."""
    from ledger.authority.trust import trust_root as load_root
    from ledger.stops import request_stop

    target = target_of(run_id, {"agent": agent, "tenant": tenant, "tool": tool,
                                "model": model, "prompt": prompt})  # fmt: skip
    if not reason.strip():
        raise InputError("--reason is required: say why (it is recorded and shown)")
    settings = settings_from(ctx)
    root = load_root(trust_root)
    done = request_stop(
        connection(ctx), settings, target=target, reason=reason,
        requested_by=as_ or getpass.getuser(), root=root, via="cli", key=key,
    )  # fmt: skip
    if json_out:
        emit_json(done_json(done, "stop"))
        return
    signed = "signed" if done.signed else "unsigned"
    say(f"stopped {done.target} in {done.origin} ({done.authority}, {signed}): {done.event_id}")
    if done.note:
        say(done.note)
