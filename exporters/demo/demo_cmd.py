"""`ledger demo`: the README's main command — a realistic incident, investigated end to end.

It lives in the exporters layer because that is its highest dependency: the demo ends by
writing an evidence bundle and verifying it offline.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import connection, settings_from
from ledger.errors import ExitCode

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("demo")
def demo(
    ctx: typer.Context,
    no_tui: Annotated[
        bool, typer.Option("--no-tui", help="Never open the TUI at the end.")
    ] = False,
) -> None:
    """Record two agents at work, then an incident, and investigate it.

    Verifies the ledger, checks every run against the policy in force, prints the findings and
    the undo plan for the incident, writes an evidence bundle and verifies it offline. Safe to
    run repeatedly: each run adds new agent runs to the same ledger.
    """
    from exporters.demo.agents import langgraph_installed
    from exporters.demo.report import report
    from exporters.demo.story import record_story
    from ledger.plugins import COMMANDS, registered

    settings = settings_from(ctx)
    conn = connection(ctx)
    where = (
        f"embedded PostgreSQL in {settings.pgdata}" if settings.embedded else "external PostgreSQL"
    )
    typer.echo(f"ledger: {where}")
    graph = langgraph_installed()
    if not graph:
        typer.echo("LangGraph is not installed: the sales-ops agent runs on the plain hooks "
                   "(same story; pip install 'agent-ledger[langgraph]' for the graph)")
    story = record_story(settings, conn)
    if story.authority is not None:
        typer.echo("authority (made explicitly; see docs/identity.md):")
        for line in story.authority.lines():
            typer.echo(f"   {line}")
    typer.echo(
        f"recorded {len(story.runs)} runs of a sales-ops agent "
        f"({'LangGraph' if graph else 'plain hooks'}) and a support agent "
        "(two days of normal work, then an incident, played now)"
    )
    outcome = report(settings, conn, story, settings.home / "demo")
    incident = story.incident["prompt_injection"]
    root = story.authority.trust_root_file if story.authority is not None else None
    argv = tui_argv(incident, root, _home_flag(ctx))
    typer.echo(f"\n5. open the incident in the terminal UI, as the demo's on-call:\n"
               f"   ledger {shlex.join(argv)}")
    ok = outcome.verified and outcome.bundle_valid
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if ok and interactive and not no_tui and "tui" in registered(COMMANDS):
        exe = shutil.which("ledger") or sys.argv[0]
        typer.echo("   opening it now (q quits)...")
        os.execv(exe, [exe, *argv])  # noqa: S606 - our own entry point
    if not ok:
        raise typer.Exit(int(ExitCode.INVALID))


def tui_argv(incident: str, trust_root: Path | None, home: Path | None) -> list[str]:
    """The `ledger` arguments that open the incident with what the demo just made: its trust
    root (without it every undo approval is refused and every stop only asserted) and its
    on-call, who holds the stop and undo grants in the demo registry (exporters/demo/authority)."""
    from exporters.demo.authority import ONCALL

    argv = ["--home", str(home)] if home is not None else []
    argv += ["tui", "--run", incident, "--as", ONCALL]
    if trust_root is not None:
        argv += ["--trust-root", str(trust_root)]
    return argv


def _home_flag(ctx: typer.Context) -> Path | None:
    """The home given as `--home` on the command line (an environment home is inherited by the
    TUI the demo opens, and by the user's shell for the printed command)."""
    root = ctx.find_root()
    source = root.get_parameter_source("home")
    if source is None or source.name != "COMMANDLINE":
        return None
    home = root.params.get("home")
    return Path(home) if home is not None else None
