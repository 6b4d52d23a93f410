"""Shared CLI plumbing: settings from global options, stdout/stderr discipline, errors.

Data goes to stdout (so it can be piped); diagnostics go to stderr. Errors are one line with no
traceback (keys are local variables in some frames; `pretty_exceptions_show_locals` is off).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import typer

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.errors import InputError

__all__ = ["JsonOption", "connection", "emit_json", "err", "parse_run_id", "settings_from"]


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")


def settings_from(ctx: typer.Context) -> Settings:
    """The Settings built by the root callback (from --dsn/--home or the environment)."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    dsn: str | None = obj.get("dsn")
    home: Path | None = obj.get("home")
    return Settings.from_env(dsn=dsn, home=home)


def connection(ctx: typer.Context) -> psycopg.Connection:
    """A migrated autocommit connection for this command."""
    return connect(settings_from(ctx))


def err(message: str) -> None:
    """A diagnostic line on stderr."""
    typer.echo(message, err=True)


def emit_json(value: Any) -> None:
    """JSON on stdout, stable key order."""
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table (stable for tests and copy-paste)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def parse_run_id(text: str) -> uuid.UUID:
    """A run id from the command line, or a one-line usage error (exit 2)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InputError(f"not a run id (UUID): {text!r}") from None
