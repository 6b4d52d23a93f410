"""`ledger undo plan|dry-run|approve|apply|coverage`: after-the-fact undo of agent actions.

Plans are files (canonical JSON with their digest) so they can be reviewed, attached to an
incident and approved by someone other than the original actor. Compensators and probes are
Python functions registered by modules named with --plugin (default: the demo CRM tools).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    TrustRootOption,
    connection,
    deprecated_as,
    emit_json,
    input_argument,
    input_option,
    parse_run_id,
    principal,
    say,
    settings_from,
    time_option,
    when,
)
from ledger.errors import InputError

if TYPE_CHECKING:
    from replay.undo.probes import UndoContext

__all__ = ["app"]

app = typer.Typer(
    help="Undo plans: generate, dry-run, approve (SoD), apply, coverage.",
    no_args_is_help=True,
    add_completion=False,
)

ContractsOpt = Annotated[
    list[Path] | None,
    input_option("--contracts", help="Contract file or directory (repeatable).", kind="any"),
]
PluginOpt = Annotated[
    list[str] | None, typer.Option("--plugin", help="Module registering compensators/probes.")
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target-dsn",
        envvar="LEDGER_UNDO_TARGET_DSN",
        help="DSN of the system being repaired (default: the ledger database).",
    ),
]
SmtpOpt = Annotated[
    str | None,
    typer.Option("--smtp", envvar="LEDGER_UNDO_SMTP", help="host:port for mail steps."),
]
SinceOpt = Annotated[str | None, time_option("--since", "Window start")]
UntilOpt = Annotated[str | None, time_option("--until", "Window end")]
PlanFile = Annotated[Path, input_argument("An undo plan file.")]


def _target(ctx: typer.Context, dsn: str | None, smtp: str | None) -> UndoContext:
    from replay.undo.service import undo_target

    return undo_target(settings_from(ctx), dsn, smtp)


def _plugins(names: list[str] | None) -> None:
    from replay.undo.service import load_plugins

    load_plugins(names)


@app.command("plan")
def plan_cmd(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    run_ids: Annotated[list[str] | None, typer.Argument(help="Run ids (any number).")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    contracts: ContractsOpt = None,
    plugin: PluginOpt = None,
    target_dsn: TargetOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Plan file (default ./undo-plan-<digest>.json).")
    ] = None,
    now: Annotated[
        str | None, time_option("--now", "Evaluate undo windows at this time")
    ] = None,
    as_: AsOption = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Do not run read-only probes.")
    ] = False,
    json_out: JsonOption = False,
    by: Annotated[str | None, deprecated_as("--by")] = None,
) -> None:
    """Generate an UndoPlan for runs and/or a time window; write it and record undo.plan.created."""
    from ledger import ids
    from ledger.when import parse_time_ns
    from replay.undo.dryrun import render_step
    from replay.undo.model import write_plan
    from replay.undo.record import record_plan
    from replay.undo.service import plan_for

    actor = principal(as_, "--by", by) or os.environ.get("USER")
    conn = connection(ctx)
    target = _target(ctx, target_dsn, None) if target_dsn and not no_probe else None
    plan = plan_for(
        conn,
        settings_from(ctx),
        [parse_run_id(r) for r in run_ids or []],
        since=when(since, "--since"),
        until=when(until, "--until"),
        contracts=contracts,
        plugins=plugin,
        target=target,
        probe=not no_probe,
        now=ids.format_timestamp(parse_time_ns(now, "--now")) if now else None,
        created_by=actor,
        reason=reason,
    ).plan
    path = out or Path(f"undo-plan-{plan.digest[:12]}.json")
    write_plan(plan, path)
    record_plan(conn, settings_from(ctx), plan, actor)
    if json_out:
        emit_json({"plan_digest": plan.digest, "path": str(path), "plan": plan.body()})
        return
    say(f"plan {plan.digest}  ->  {path}")
    say(f"  {plan.summary_text()}")
    for step in plan.ordered_steps():
        say("  " + render_step(step))
    for item in plan.residue:
        say(f"  residue {item.step_id} {item.tool}: {item.residue}")


@app.command("dry-run")
def dry_run_cmd(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    plan_file: PlanFile,
    plugin: PluginOpt = None,
    target_dsn: TargetOpt = None,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Run DB compensators, roll back.")
    ] = False,
    json_out: JsonOption = False,
    smtp: SmtpOpt = None,
) -> None:
    """Render every step and run read-only precondition probes (and check the mail relay
    accepts a connection, without sending)."""
    from replay.undo.dryrun import dry_run as run_dry
    from replay.undo.model import read_plan

    plan = read_plan(plan_file)
    _plugins(plugin)
    report = run_dry(plan, _target(ctx, target_dsn, smtp), sandbox=sandbox)
    if json_out:
        emit_json({"plan_digest": plan.digest, "steps": [r.as_json() for r in report]})
        return
    for r in report:
        checks = ", ".join(f"{c.probe}={c.status}" for c in r.preconditions) or "no probe"
        say(
            f"{r.verdict}: g{r.group} {r.step_id} {r.strategy:<17} {r.op or '-'} {r.args} "
            f"[{checks}]; compensator {r.compensator}; sandbox {r.sandbox}"
        )
        if r.reason:
            say(f"      why: {r.reason}")
        for note in r.notes:
            say(f"      note: {note}")
        if r.residue:
            say(f"      residue: {r.residue}")


@app.command("approve")
def approve_cmd(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    plan_file: PlanFile,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as", metavar="PRINCIPAL", help="Who approves (key under keys/approvers); required."
        ),
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", hidden=True, help="Ignored: roles come from the registry."),
    ] = None,
    json_out: JsonOption = False,
    approver: Annotated[str | None, deprecated_as("--approver")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="LEDGER_APPROVER_KEY",
            metavar="FILE|PKCS11-URI",
            help="Approver key: an existing key file or a pkcs11: URI "
            "(default: keys/approvers/NAME.key).",
        ),
    ] = None,
    trust_root: TrustRootOption = None,
) -> None:
    """Sign the plan digest as a registered approver (registry undo grants; separation of
    duties: not an original actor or approver). Roles come from the registry in force."""
    from ledger.authority.trust import trust_root as load_root
    from replay.undo.approvals import approve as approve_plan
    from replay.undo.model import read_plan

    approver = principal(as_, "--approver", approver)
    if approver is None:
        raise InputError("give --as PRINCIPAL: who approves the plan")
    if role:
        typer.echo("warning: --role is ignored; roles come from the registry in force", err=True)
    plan = read_plan(plan_file)
    root = load_root(trust_root)
    result = approve_plan(connection(ctx), settings_from(ctx), plan, approver, root=root, key=key)
    if json_out:
        emit_json(
            {
                "plan_digest": plan.digest,
                "approver": result.approver,
                "roles": list(result.roles),
                "vkey": result.vkey,
                "registry_hash": result.registry,
            }
        )
        return
    say(f"approved {plan.digest} by {result.approver}")


@app.command("apply")
def apply_cmd(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    plan_file: PlanFile,
    plugin: PluginOpt = None,
    target_dsn: TargetOpt = None,
    smtp: SmtpOpt = None,
    as_: AsOption = None,
    contained: Annotated[
        bool, typer.Option("--contained", help="Confirm the agent is stopped.")
    ] = False,
    json_out: JsonOption = False,
    operator: Annotated[str | None, deprecated_as("--operator")] = None,
    trust_root: TrustRootOption = None,
) -> None:
    """Execute an approved plan (approvals re-judged by the registry); a second apply does
    nothing."""
    from ledger.authority.trust import trust_root as load_root
    from replay.undo.executor import apply_plan
    from replay.undo.model import read_plan

    operator = principal(as_, "--operator", operator)
    plan = read_plan(plan_file)
    _plugins(plugin)
    report = apply_plan(
        connection(ctx),
        settings_from(ctx),
        plan,
        _target(ctx, target_dsn, smtp),
        root=load_root(trust_root),
        operator=operator or os.environ.get("USER"),
        contained=contained,
    )
    if json_out:
        emit_json(report.as_json())
    else:
        for line in report.lines():
            say(line)
    if report.status == "failed":
        raise typer.Exit(1)


@app.command("coverage")
def coverage_cmd(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    contracts: ContractsOpt = None,
    plugin: PluginOpt = None,
    json_out: JsonOption = False,
) -> None:
    """Share of side-effecting tool calls with a declared, registered compensator."""
    from replay.undo.compensators import COMPENSATORS
    from replay.undo.coverage import coverage as compute_coverage
    from replay.undo.scope import load_window_calls
    from replay.undo.service import contract_sources, load_registry

    registry = load_registry(contract_sources(settings_from(ctx), contracts))
    _plugins(plugin)
    events = load_window_calls(connection(ctx), when(since, "--since"), when(until, "--until"))
    report = compute_coverage(events, registry, COMPENSATORS)
    if json_out:
        emit_json(report.as_json())
        return
    say(
        f"undo coverage {report.share:.1%} ({report.covered_calls}/{report.side_effecting_calls})"
    )
    for tool in report.lacking:
        say(f"  lacking: {tool} — {report.by_tool[tool].reason or ''}")
