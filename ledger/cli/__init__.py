"""The `ledger` command: one root Typer app, one module per command group.

`main()` turns every `LedgerError` into a one-line message on stderr and its documented exit
code (0 ok, 1 invalid, 2 usage, 3 database unreachable, 4 key problem), never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer

from ledger.errors import ExitCode, LedgerError

__all__ = ["app", "main"]

app = typer.Typer(
    name="ledger",
    help="Tamper-evident audit ledger for AI agents: record, verify, replay, undo, export.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    dsn: str = typer.Option(
        None,
        "--dsn",
        envvar="LEDGER_DSN",
        help="External PostgreSQL (>= 15) instead of the embedded one.",
    ),
    home: Path = typer.Option(
        None, "--home", envvar="LEDGER_HOME", help="Ledger home (embedded data, keys, spool)."
    ),
) -> None:
    ctx.obj = {"dsn": dsn, "home": home}


# Command modules register themselves on `app` (or expose a sub-app) when imported.
_COMMANDS = [
    "db_cmd",
    "keys_cmd",
    "verify_cmd",
    "runs_cmd",
    "ingest_cmd",
    "demo_cmd",
    "serve_cmd",
    "prove_cmd",
]
_OPTIONAL_SUBAPPS = {  # module -> (attribute, command name); added when the module exists
    "spool": ("app", "spool"),
    "policy_cmd": ("app", "policy"),
    "undo_cmd": ("app", "undo"),
    "witness_cmd": ("app", "witness"),
}
_OPTIONAL_COMMANDS = {
    "replay_cmd": ["replay"],
    "check_cmd": ["check"],
    "export_cmd": ["export", "verify-bundle"],
    "tui_cmd": ["tui"],
    "redact_cmd": ["redact"],
}


def _load() -> None:
    for name in _COMMANDS:
        importlib.import_module(f"ledger.cli.{name}")
    for name, (attr, command) in _OPTIONAL_SUBAPPS.items():
        module = _optional(name)
        if module is not None:
            app.add_typer(getattr(module, attr), name=command)
    for name, commands in _OPTIONAL_COMMANDS.items():
        module = _optional(name)
        for command in commands if module is not None else []:
            app.command(command)(getattr(module, command.replace("-", "_")))


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(f"ledger.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"ledger.cli.{name}":
            return None
        raise


_load()


def main() -> None:
    """Console entry point."""
    try:
        result = app(standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # click usage errors and anything unexpected: one line, no locals
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):  # a (vendored) click exception
            show()
            sys.exit(code if code != 1 else int(ExitCode.USAGE))
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(int(ExitCode.INVALID))
