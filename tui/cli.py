"""`ledger tui`: the forensics / incident-response terminal UI.

Textual and the rest of the `tui` package are imported only inside the command, so listing the
commands for `ledger --help` does not load them; nothing below `tui` imports this module (it is
registered in pyproject.toml under `agent_ledger.commands`).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import (
    TrustRootOption,
    deprecated_as,
    input_option,
    parse_run_id,
    principal,
    settings_from,
)

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("tui")
def tui(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    readonly: Annotated[
        bool, typer.Option("--readonly", help="Auditor mode: hide every action that writes.")
    ] = False,
    run: Annotated[
        str | None,
        typer.Option("--run", metavar="RUN_ID", help="Open the timeline of this run."),
    ] = None,
    exercise: Annotated[
        Path | None,
        input_option(
            "--exercise",
            help="Play a tabletop exercise (YAML) in its own exercise-<name> namespace.",
        ),
    ] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="PRINCIPAL",
            help="Who you are (recorded on notes, stops, decisions; default: login name).",
        ),
    ] = None,
    user: Annotated[str | None, deprecated_as("--user")] = None,
    trust_root: TrustRootOption = None,
) -> None:
    """Board, timeline, inspector, trace/stop/undo, replay, evidence export, tabletop exercises.

    The trust root judges undo approvals (refused without one) and stops (asserted without)."""
    from ledger.authority.trust import trust_root as load_root
    from tui.app import LedgerApp

    who = principal(as_, "--user", user) or getpass.getuser()
    run_id = str(parse_run_id(run)) if run is not None else None
    LedgerApp(
        settings_from(ctx),
        readonly=readonly,
        run_id=run_id,
        exercise=exercise,
        user=who,
        trust_root=load_root(trust_root),
    ).run()
