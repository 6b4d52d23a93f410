"""`ledger undo plan|dry-run|approve|apply|coverage`: after-the-fact undo of agent actions.

Plans are files (canonical JSON with their digest) so they can be reviewed, attached to an
incident and approved by someone other than the original actor. Compensators and probes are
Python functions registered by modules named with --plugin (default: the demo CRM tools).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    connection,
    deprecated_as,
    emit_json,
    principal,
    settings_from,
    time_option,
    when,
)
from ledger.errors import InputError

if TYPE_CHECKING:
    from replay.undo.contracts import ContractRegistry
    from replay.undo.probes import UndoContext

__all__ = ["app"]

app = typer.Typer(
    help="Undo plans: generate, dry-run, approve (SoD), apply, coverage.",
    no_args_is_help=True,
    add_completion=False,
)

ContractsOpt = Annotated[
    list[Path] | None,
    typer.Option("--contracts", help="Contract file or directory (repeatable)."),
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
PlanFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An undo plan file.")]


def _registry(ctx: typer.Context, paths: list[Path] | None) -> ContractRegistry:
    from replay.undo.contracts import load_contracts
    from replay.undo.examples import CONTRACTS_DIR

    chosen = list(paths or [])
    if not chosen:
        chosen = [CONTRACTS_DIR]
        home = settings_from(ctx).home / "contracts"
        if home.is_dir():
            chosen.append(home)
    try:
        return load_contracts(chosen)
    except OSError as exc:
        raise InputError(f"cannot read contracts: {exc}") from None


def _plugins(names: list[str] | None) -> None:
    for name in names or ["replay.undo.examples.demo"]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise InputError(f"cannot import plugin {name!r}: {exc}") from None


def _target(ctx: typer.Context, dsn: str | None, smtp: str | None) -> UndoContext:
    import psycopg

    from replay.undo.probes import UndoContext

    conn = psycopg.connect(dsn, autocommit=True) if dsn else connection(ctx)
    extra: dict[str, object] = {}
    if smtp:
        host, _, port = smtp.rpartition(":")
        extra = {"smtp_host": host or "127.0.0.1", "smtp_port": int(port)}
    return UndoContext(conn=conn, extra=extra)


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
    from replay.undo.plan import generate_plan, probe_requests
    from replay.undo.probes import run_probes
    from replay.undo.record import record_plan
    from replay.undo.scope import load_others, load_scope

    actor = principal(as_, "--by", by) or os.environ.get("USER")
    try:
        parsed = [__import__("uuid").UUID(r) for r in run_ids or []]
    except ValueError:
        raise InputError("run ids must be UUIDs") from None
    if not parsed and since is None and until is None:
        raise InputError("give run ids, or --since/--until for a window")
    registry = _registry(ctx, contracts)
    _plugins(plugin)
    conn = connection(ctx)
    scope_ids, events = load_scope(conn, parsed, when(since, "--since"), when(until, "--until"))
    if not events:
        raise InputError("no events in scope")
    probes = {}
    if not no_probe:
        probes = run_probes(probe_requests(events, registry), _target(ctx, target_dsn, None))
    scope = {"runs": [str(r) for r in scope_ids], "since": since, "until": until}
    at = ids.format_timestamp(parse_time_ns(now, "--now") if now else ids.now_ns())
    plan = generate_plan(
        events,
        registry,
        now=at,
        scope=scope,
        probe_results=probes,
        others=load_others(conn, scope_ids, events),
        created_by=actor,
        reason=reason,
    )
    path = out or Path(f"undo-plan-{plan.digest[:12]}.json")
    write_plan(plan, path)
    record_plan(conn, settings_from(ctx), plan, actor)
    if json_out:
        emit_json({"plan_digest": plan.digest, "path": str(path), "plan": plan.body()})
        return
    typer.echo(f"plan {plan.digest}  ->  {path}")
    for step in plan.ordered_steps():
        typer.echo("  " + render_step(step))
    for item in plan.residue:
        typer.echo(f"  residue {item.step_id} {item.tool}: {item.residue}")


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
) -> None:
    """Render every step and run read-only precondition probes."""
    from replay.undo.dryrun import dry_run as run_dry
    from replay.undo.model import read_plan

    plan = read_plan(plan_file)
    _plugins(plugin)
    report = run_dry(plan, _target(ctx, target_dsn, None), sandbox=sandbox)
    if json_out:
        emit_json({"plan_digest": plan.digest, "steps": [r.__dict__ for r in report]})
        return
    for r in report:
        checks = ", ".join(f"{c['probe']}={c['status']}" for c in r.preconditions) or "no probe"
        verdict = "would run" if r.would_run else "will NOT run"
        typer.echo(
            f"g{r.group} {r.step_id} {r.strategy:<17} {r.op or '-'} {r.args} [{checks}] "
            f"{verdict}; compensator {r.compensator}; sandbox {r.sandbox}"
        )
        for note in r.notes:
            typer.echo(f"      note: {note}")
        if r.residue:
            typer.echo(f"      residue: {r.residue}")


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
        list[str] | None, typer.Option("--role", help="Approver role (repeatable).")
    ] = None,
    json_out: JsonOption = False,
    approver: Annotated[str | None, deprecated_as("--approver")] = None,
) -> None:
    """Sign the plan digest (separation of duties: not an original actor or approver)."""
    from replay.undo.approvals import approve as approve_plan
    from replay.undo.model import read_plan

    approver = principal(as_, "--approver", approver)
    if approver is None:
        raise InputError("give --as PRINCIPAL: who approves the plan")
    plan = read_plan(plan_file)
    result = approve_plan(connection(ctx), settings_from(ctx), plan, approver, tuple(role or ()))
    if json_out:
        emit_json(
            {
                "plan_digest": plan.digest,
                "approver": result.approver,
                "roles": list(result.roles),
                "vkey": result.vkey,
            }
        )
        return
    typer.echo(f"approved {plan.digest} by {result.approver}")


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
) -> None:
    """Execute an approved plan; a second apply does nothing."""
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
        operator=operator or os.environ.get("USER"),
        contained=contained,
    )
    if json_out:
        emit_json(report.as_json())
    else:
        for s in report.steps:
            extra = " (already done)" if s.skipped else ""
            typer.echo(
                f"{s.step_id} {s.status} attempts={s.attempts}{extra}"
                + (f" — {s.error}" if s.error else "")
            )
        typer.echo(f"plan {plan.digest[:16]}… {report.status}")
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
    from replay.undo.coverage import coverage as compute_coverage
    from replay.undo.executor import COMPENSATORS
    from replay.undo.scope import load_window_calls

    registry = _registry(ctx, contracts)
    _plugins(plugin)
    events = load_window_calls(connection(ctx), when(since, "--since"), when(until, "--until"))
    report = compute_coverage(events, registry, COMPENSATORS)
    if json_out:
        emit_json(report.as_json())
        return
    typer.echo(
        f"undo coverage {report.share:.1%} ({report.covered_calls}/{report.side_effecting_calls})"
    )
    for tool in report.lacking:
        typer.echo(f"  lacking: {tool} — {report.by_tool[tool].get('reason', '')}")
