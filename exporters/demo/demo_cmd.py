"""`ledger demo`: the README's main command — a realistic incident, investigated end to end."""

from __future__ import annotations

import shutil
import sys

import typer

from ledger.cli import app
from ledger.cli.common import connection, settings_from
from ledger.errors import ExitCode


@app.command("demo")
def demo(
    ctx: typer.Context,
    no_tui: bool = typer.Option(False, "--no-tui", help="Never open the TUI at the end."),
) -> None:
    """Record several days of two agents and an incident, then investigate it.

    Verifies the ledger, checks every run against the policy in force, prints the findings and
    the undo plan for the incident, writes an evidence bundle and verifies it offline. Safe to
    run repeatedly: each run adds new agent runs to the same ledger.
    """
    from ledger.cli.demo_story.report import report
    from ledger.cli.demo_story.story import record_story

    settings = settings_from(ctx)
    conn = connection(ctx)
    where = (
        f"embedded PostgreSQL in {settings.pgdata}" if settings.embedded else "external PostgreSQL"
    )
    typer.echo(f"ledger: {where}")
    story = record_story(settings, conn)
    typer.echo(
        f"recorded {len(story.runs)} runs of a sales-ops agent (LangGraph) and a support agent "
        "over 3 days, ending in an incident"
    )
    outcome = report(settings, conn, story, settings.home / "demo")
    incident = story.incident["prompt_injection"]
    command = f"ledger tui --run {incident}"
    typer.echo(f"\n5. open the incident in the terminal UI:\n   {command}")
    ok = outcome.verified and outcome.bundle_valid
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if ok and interactive and not no_tui and "tui" in {c.name for c in app.registered_commands}:
        exe = shutil.which("ledger") or sys.argv[0]
        typer.echo("   opening it now (q quits)...")
        import os

        os.execv(exe, [exe, "tui", "--run", incident])  # noqa: S606 - our own entry point
    if not ok:
        raise typer.Exit(int(ExitCode.INVALID))
