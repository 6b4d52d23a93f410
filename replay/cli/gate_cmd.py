"""`ledger gate`: the release gate's commands.

PLACEHOLDER of gatecmp's branch so `ledger gate compare` can be run and tested before the
merge: gatesuite owns this file (`run`, `check`); at the merge the coordinator keeps
gatesuite's and adds `app.command("compare")(compare_command)` to it.
"""

from __future__ import annotations

import typer

from replay.cli.gate_compare import compare_command

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.callback()
def gate() -> None:
    """Release gate: run suites, check recorded runs, compare versions."""


app.command("compare")(compare_command)
