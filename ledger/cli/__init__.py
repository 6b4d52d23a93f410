"""The `ledger` command: one root Typer app; every command comes from an entry point.

Commands live in the layer they drive (ledger/cli, replay/cli, exporters/cli, exporters/demo,
tui/cli.py) and are declared in pyproject.toml under `agent_ledger.commands` (see group.py).

`main()` turns every `LedgerError` into one line on stderr and its exit code (the table is
`ledger.errors.ExitCode`, shown in docs/cli.md). Commands do not translate exceptions: every
domain exception already is a `LedgerError`. Anything else is a bug and says so in one line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli import coerce
from ledger.cli.group import CommandGroup
from ledger.errors import ExitCode, LedgerError, from_foreign
from ledger.terminal import printable

__all__ = ["app", "main"]

coerce.install()  # plain option values skip pydantic (ledger/cli/coerce.py)

app = typer.Typer(
    name="ledger",
    cls=CommandGroup,
    help="Tamper-evident audit ledger for AI agents: record, verify, replay, undo, export.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain click help: Rich's import alone doubled `--help` (group.py)
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            envvar="LEDGER_DSN",
            help="External PostgreSQL (>= 15) instead of the embedded one.",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", envvar="LEDGER_HOME", help="Ledger home (embedded data, keys, spool)."
        ),
    ] = None,
    read_dsn: Annotated[
        str | None,
        typer.Option(
            "--read-dsn",
            envvar="LEDGER_READ_DSN",
            help="A streaming replica that verify, export and tui read from (writes still "
            "go to --dsn).",
        ),
    ] = None,
) -> None:
    ctx.obj = {"dsn": dsn, "home": home, "read_dsn": read_dsn}


def main() -> None:
    """Console entry point: run the app, map every failure to one stderr line and an exit code."""
    try:
        result = app(standalone_mode=False)
    except LedgerError as exc:
        _fail(f"{exc.label}: {exc}", exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # usage errors (vendored click) and anything unexpected
        _unexpected(exc)
    if isinstance(result, int) and result:
        sys.exit(result)


def _fail(line: str, code: ExitCode) -> None:
    # An error may quote a writer's text (a pack key, an agent name): each line escaped. The
    # line breaks kept are our own (a policy file's problems, one per line); a break inside a
    # quoted value is escaped by whoever quotes it (printable, repr).
    typer.echo("\n".join(printable(part) for part in line.split("\n")), err=True)
    sys.exit(int(code))


def _unexpected(exc: Exception) -> None:
    show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
    if callable(show) and isinstance(code, int):  # a click usage error: click prints it
        show()
        sys.exit(code if code != 1 else int(ExitCode.USAGE))
    known = from_foreign(exc)
    if known is not None:
        _fail(f"error: {known}", known.exit_code)
    detail = " ".join(str(exc).split())[:300]
    _fail(
        f"internal error: {type(exc).__name__}: {detail} "
        "(a bug in ledger: please report it with the command you ran)",
        ExitCode.INTERNAL,
    )
