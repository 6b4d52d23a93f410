"""`ledger undo plan|dry-run|approve|apply|coverage`: after-the-fact undo of agent actions.

Plans are files (canonical JSON with their digest) so they can be reviewed, attached to an
incident and approved by someone other than the original actor. Compensators and probes are
Python functions registered by modules named with --plugin (default: the demo CRM tools).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import typer

from ledger.cli.common import JsonOption, connection, emit_json, parse_run_id, settings_from
from ledger.errors import InputError
from replay.undo.approvals import approve as approve_plan
from replay.undo.coverage import coverage as compute_coverage
from replay.undo.dryrun import dry_run as run_dry
from replay.undo.dryrun import render_step
from replay.undo.executor import COMPENSATORS, apply_plan
from replay.undo.model import PlanFileError, UndoPlan, read_plan, write_plan
from replay.undo.probes import UndoContext
from replay.undo.record import record_plan
from replay.undo.scope import load_window_calls
from replay.undo.service import (
    contract_sources,
    load_plugins,
    load_registry,
    plan_for,
    undo_target,
)

app = typer.Typer(
    help="Undo plans: generate, dry-run, approve (SoD), apply, coverage.", no_args_is_help=True
)

ContractsOpt = typer.Option(None, "--contracts", help="Contract file or directory (repeatable).")
PluginOpt = typer.Option(None, "--plugin", help="Module registering compensators/probes.")
TargetOpt = typer.Option(
    None,
    "--target-dsn",
    envvar="LEDGER_UNDO_TARGET_DSN",
    help="DSN of the system being repaired (default: the ledger database).",
)
SmtpOpt = typer.Option(None, "--smtp", envvar="LEDGER_UNDO_SMTP", help="host:port for mail steps.")
SinceOpt = typer.Option(None, "--since", help="Window start (ISO 8601).")
UntilOpt = typer.Option(None, "--until", help="Window end (ISO 8601).")


def _target(ctx: typer.Context, dsn: str | None, smtp: str | None) -> UndoContext:
    return undo_target(settings_from(ctx), dsn, smtp)


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {text!r}") from None


def _read(path: Path) -> UndoPlan:
    try:
        return read_plan(path)
    except PlanFileError as exc:
        raise InputError(str(exc)) from None


@app.command("plan")
def plan_cmd(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(None, help="Run ids (any number)."),
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    contracts: list[Path] | None = ContractsOpt,
    plugin: list[str] | None = PluginOpt,
    target_dsn: str | None = TargetOpt,
    out: Path | None = typer.Option(
        None, "--out", help="Plan file (default ./undo-plan-<digest>.json)."
    ),
    now: str | None = typer.Option(None, "--now", help="Evaluate undo windows at this time."),
    by: str | None = typer.Option(None, "--by", help="Who generates the plan."),
    reason: str | None = typer.Option(None, "--reason"),
    no_probe: bool = typer.Option(False, "--no-probe", help="Do not run read-only probes."),
    json_out: bool = JsonOption,
) -> None:
    """Generate an UndoPlan for runs and/or a time window; write it and record undo.plan.created."""
    conn = connection(ctx)
    settings = settings_from(ctx)
    actor = by or os.environ.get("USER")
    target = _target(ctx, target_dsn, None) if target_dsn and not no_probe else None
    planned = plan_for(
        conn,
        settings,
        [parse_run_id(r) for r in run_ids or []],
        since=_when(since),
        until=_when(until),
        contracts=contracts,
        plugins=plugin,
        target=target,
        probe=not no_probe,
        now=now,
        created_by=actor,
        reason=reason,
    )
    plan = planned.plan
    path = out or Path(f"undo-plan-{plan.digest[:12]}.json")
    write_plan(plan, path)
    record_plan(conn, settings, plan, actor)
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
    plan_file: Path,
    plugin: list[str] | None = PluginOpt,
    target_dsn: str | None = TargetOpt,
    sandbox: bool = typer.Option(False, "--sandbox", help="Run DB compensators, roll back."),
    json_out: bool = JsonOption,
) -> None:
    """Render every step and run read-only precondition probes."""
    plan = _read(plan_file)
    load_plugins(plugin)
    report = run_dry(plan, _target(ctx, target_dsn, None), sandbox=sandbox)
    if json_out:
        emit_json({"plan_digest": plan.digest, "steps": [r.as_json() for r in report]})
        return
    for r in report:
        checks = ", ".join(f"{c.probe}={c.status}" for c in r.preconditions) or "no probe"
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
def approve_cmd(
    ctx: typer.Context,
    plan_file: Path,
    approver: str = typer.Option(
        ..., "--approver", help="Approver name (key under keys/approvers)."
    ),
    role: list[str] | None = typer.Option(None, "--role", help="Approver role (repeatable)."),
    json_out: bool = JsonOption,
) -> None:
    """Sign the plan digest (separation of duties: not an original actor or approver)."""
    plan = _read(plan_file)
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
    plan_file: Path,
    plugin: list[str] | None = PluginOpt,
    target_dsn: str | None = TargetOpt,
    smtp: str | None = SmtpOpt,
    operator: str | None = typer.Option(None, "--operator"),
    contained: bool = typer.Option(False, "--contained", help="Confirm the agent is stopped."),
    json_out: bool = JsonOption,
) -> None:
    """Execute an approved plan; a second apply does nothing."""
    plan = _read(plan_file)
    load_plugins(plugin)
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
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    contracts: list[Path] | None = ContractsOpt,
    plugin: list[str] | None = PluginOpt,
    json_out: bool = JsonOption,
) -> None:
    """Share of side-effecting tool calls with a declared, registered compensator."""
    registry = load_registry(contract_sources(settings_from(ctx), contracts))
    load_plugins(plugin)
    events = load_window_calls(connection(ctx), _when(since), _when(until))
    report = compute_coverage(events, registry, COMPENSATORS)
    if json_out:
        emit_json(report.as_json())
        return
    typer.echo(
        f"undo coverage {report.share:.1%} ({report.covered_calls}/{report.side_effecting_calls})"
    )
    for tool in report.lacking:
        typer.echo(f"  lacking: {tool} — {report.by_tool[tool].reason or ''}")
