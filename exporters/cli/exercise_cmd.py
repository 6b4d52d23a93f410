"""`ledger exercise report NAME`: the after-action report of a tabletop exercise, from the ledger.

The same builder as the TUI's `w` and the evidence bundle (exporters.aar), over the exercise's
record in its tenant `exercise-<name>`; a name never played is a usage error, never an empty
report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import connection, settings_from
from ledger.errors import InputError

__all__ = ["app"]

app = typer.Typer(
    help="Tabletop exercises played in `ledger tui --exercise FILE`.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def exercise() -> None:
    """Tabletop exercises played in `ledger tui --exercise FILE` (a group: `report` today)."""


@app.command("report")
def report(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The exercise's name (its file's `name:`).")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Write the Markdown here (default: standard output)."),
    ] = None,
) -> None:
    """Print (or write) the after-action report / improvement plan (HSEEP shape, Markdown)."""
    from exporters.aar import aar_markdown
    from ledger.exercises import EXERCISE_NAME, load_record

    if not EXERCISE_NAME.match(name):
        raise InputError(f"exercise name must match {EXERCISE_NAME.pattern}")
    text = aar_markdown(load_record(connection(ctx, migrate=False), settings_from(ctx), name))
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"after-action report of {name} written to {out}")
