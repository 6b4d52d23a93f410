"""`ledger tui`: the forensics / incident-response terminal UI.

A single command function (the lead registers it: `app.command("tui")(tui_cmd.tui)`). Textual and
the `tui` package are imported only inside the function, so `import ledger.cli` stays light and
nothing in `ledger/` depends on `tui` at import time.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from ledger.cli.common import settings_from
from ledger.errors import InputError

__all__ = ["tui"]


def tui(
    ctx: typer.Context,
    readonly: bool = typer.Option(
        False, "--readonly", help="Auditor mode: hide every action that writes."
    ),
    run: str = typer.Option(None, "--run", metavar="RUN_ID", help="Open the timeline of this run."),
    exercise: Path = typer.Option(
        None,
        "--exercise",
        metavar="FILE",
        exists=True,
        dir_okay=False,
        help="Play a tabletop exercise (YAML) in its own exercise-<name> namespace.",
    ),
    user: str = typer.Option(
        None, "--user", help="Who you are (recorded on notes, stops, decisions)."
    ),
) -> None:
    """Board, timeline, inspector, trace/stop/undo, replay, evidence export, tabletop exercises."""
    import uuid

    from tui.app import LedgerApp
    from tui.exercise import ExerciseError

    if run is not None:
        try:
            run = str(uuid.UUID(run))
        except ValueError:
            raise InputError(f"not a run id (UUID): {run!r}") from None
    try:
        app = LedgerApp(
            settings_from(ctx),
            readonly=readonly,
            run_id=run,
            exercise=exercise,
            user=user or getpass.getuser(),
        )
    except ExerciseError as exc:
        raise InputError(str(exc)) from None
    app.run()
