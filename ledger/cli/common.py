"""Shared CLI plumbing: settings from global options, stdout/stderr discipline, shared options.

Data goes to stdout (so it can be piped); diagnostics go to stderr. Errors are one line with no
traceback (keys are local variables in some frames; `pretty_exceptions_show_locals` is off).

Every command module of every layer imports its options from here, in one style
(`typing.Annotated`), so `--json`, `--as` and the time options read the same everywhere. This
module stays light: `ledger --help` imports it, so psycopg is imported only when a command
actually connects.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ledger.config import Settings
from ledger.errors import InputError, LedgerError
from ledger.ids import parse_run_id
from ledger.terminal import printable
from ledger.when import parse_time

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "OFFLINE",
    "WRITES",
    "AsOption",
    "JsonOption",
    "RunsSince",
    "RunsUntil",
    "TrustRootOption",
    "about",
    "check_input",
    "command_path",
    "connection",
    "deprecated_as",
    "duration_option",
    "emit_json",
    "err",
    "home_rule",
    "input_argument",
    "input_option",
    "parse_run_id",
    "principal",
    "read_connection",
    "say",
    "settings_from",
    "table",
    "time_option",
    "when",
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
]
AsOption = Annotated[
    str | None,
    typer.Option("--as", metavar="PRINCIPAL", help="Who acts (recorded as the actor)."),
]
InputKind = Literal["file", "dir", "any"]
_MISSING = {"file": "no such file", "dir": "no such directory", "any": "no such file"}


def check_input(path: Path, kind: InputKind = "file") -> Path:
    """`path` if it can be read as `kind`, else an InputError (exit 2) of one line.

    Why here, once: a missing or unreadable input is the user's mistake, not the ledger's; read
    by each command it came out as "INVALID" (which must mean tampering), a click usage block, a
    Python errno, or a "trust root ...: cannot read" — five wordings for one mistake.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        raise InputError(f"{_MISSING[kind]}: {path}") from None
    if kind == "file" and stat.S_ISDIR(mode):
        raise InputError(f"not a file: {path}")
    if kind == "dir" and not stat.S_ISDIR(mode):
        raise InputError(f"not a directory: {path}")
    if not os.access(path, os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
        raise InputError(f"cannot read {path}: permission denied")
    return path


def _inputs(kind: InputKind) -> Callable[[Any], Any]:
    """The callback checking an input option's value(s) (`-` is stdin, not a file)."""

    def check(value: Any) -> Any:
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is not None and one != "-":
                check_input(Path(one), kind)
        return value

    check.input_kind = kind  # type: ignore[attr-defined]  # what tests/cli check for
    return check


def input_option(*flags: str, help: str, kind: InputKind = "file", **extra: Any) -> Any:
    """An option naming a file (or directory) the command reads: checked by `check_input`."""
    metavar = {"file": "FILE", "dir": "DIR", "any": "PATH"}[kind]
    return typer.Option(*flags, help=help, metavar=metavar, callback=_inputs(kind), **extra)


def input_argument(help: str, *, kind: InputKind = "file", metavar: str | None = None) -> Any:
    """An argument naming a file (or directory) the command reads: checked by `check_input`."""
    return typer.Argument(help=help, metavar=metavar, callback=_inputs(kind))


TrustRootOption = Annotated[
    str | None,
    typer.Option(
        "--trust-root",
        callback=_inputs("file"),
        metavar="FILE",
        help="Administrator public key(s) that sign the principal registry "
        "(default: $LEDGER_TRUST_ROOT). Without one, who-checks are unknown.",
    ),
]
TIME_FORMS = "a date, a date-time (no zone means UTC), a relative 30m / 24h / 7d, or now"


def deprecated_as(flag: str) -> Any:
    """The hidden option an old actor flag (`--by`, `--approver`, ...) lives on for one release."""
    return typer.Option(flag, hidden=True, help="Deprecated: use --as.")


def principal(value: str | None, flag: str, old: str | None) -> str | None:
    """The acting principal from `--as`, or from a deprecated alias with a one-line note."""
    if old is None:
        return value
    err(f"warning: {flag} is deprecated and goes away in the next release; use --as")
    if value is not None and value != old:
        raise InputError(f"give --as or {flag}, not both")
    return old


def time_option(flag: str, what: str) -> Any:
    """A `--since`-style option taking any form `ledger.when.parse_time` accepts.

    The value is checked by that parser while the command line is parsed (a bad time is one
    usage line before anything connects); the command converts it with `when` (relative forms
    are anchored then). The callback is also the mark tests/cli/test_option_audit.py checks.
    """

    def check(value: str | None) -> str | None:
        if value is not None:
            parse_time(value, flag)
        return value

    check.time_option = True  # type: ignore[attr-defined]
    return typer.Option(flag, metavar="TIME", help=f"{what}: {TIME_FORMS}.", callback=check)


# The window of runs by their first event, as `ledger runs` and `ledger check` select them.
RunsSince = Annotated[
    str | None, time_option("--since", "Runs whose first event was recorded or dated at/after")
]
RunsUntil = Annotated[
    str | None, time_option("--until", "Runs whose first event was recorded or dated before")
]


def duration_option(flag: str, help: str, **extra: Any) -> Any:
    """A span option (`--expires 15m`): parsed by `ledger.when.parse_duration`, metavar DURATION
    (the mark tests/cli/test_option_audit.py looks for, as TIME for `time_option`)."""
    return typer.Option(flag, metavar="DURATION", help=help, **extra)


def when(text: str | None, flag: str) -> datetime | None:
    """A time option's value as an aware UTC datetime (None when the option was not given)."""
    return None if text is None else parse_time(text, flag)


@contextmanager
def about(what: str) -> Iterator[None]:
    """Name the user's file a LedgerError came from (`pinned checkpoint cp.note: ...`).

    Not a translation: the exception keeps its class and exit code; only its one line gains
    the name of what the user gave, which the library that raised it does not know.
    """
    try:
        yield
    except LedgerError as exc:
        exc.args = (f"{what}: {exc}",)
        raise


#: The home rule (issue 18). With the embedded database the home IS the ledger: a read command
#: pointed at a home that does not exist (a mistyped --home) would start an empty database
#: there and print an empty ledger as if it were the real one. So every command refuses a
#: missing home (one line naming it and `ledger init`) except those that write, which create it
#: as before; an existing empty directory is a new ledger. Command paths below `ledger`; a group
#: name covers all its sub-commands. With --dsn/LEDGER_DSN the ledger lives in that database
#: and the home holds only keys and the spool: no rule.
WRITES = frozenset({
    "approve", "demo", "gate run", "import", "ingest", "init", "redact", "resume", "serve",
    "stop", "undo",
    "db migrate", "db writer", "keys admin", "keys approver", "keys kek", "keys revoke",
    "keys rotate", "keys service", "policy publish", "registry publish", "registry sign",
    "spool flush", "tenants add", "tenants detach", "witness add-log", "witness cosign",
    "witness init",
})
#: Commands that never open the ledger (they verify files offline): the home may be absent.
OFFLINE = frozenset({"verify-bundle", "verify-proof"})


def command_path(ctx: typer.Context) -> str:
    """`witness show` for `ledger witness show`: the command's names below the root."""
    names: list[str] = []
    at: Any = ctx  # a typer.Context; its parents are click's Context
    while at.parent is not None:
        names.append(at.info_name or "")
        at = at.parent
    return " ".join(reversed(names))


def home_rule(settings: Settings, command: str) -> None:
    """Refuse a home that does not exist unless `command` writes (see WRITES)."""
    group = command.split(" ", 1)[0]
    if (not settings.embedded or settings.home.exists() or command in WRITES
            or group in WRITES or command in OFFLINE or group in OFFLINE):
        return
    raise InputError(
        f"no ledger at {printable(settings.home)}: the directory does not exist "
        "(check --home/LEDGER_HOME, or create a ledger there with `ledger init`)"
    )


def settings_from(ctx: typer.Context) -> Settings:
    """The Settings built by the root callback (from --dsn/--home or the environment), after
    the home rule (WRITES) for the command being run."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    dsn: str | None = obj.get("dsn")
    home: Path | None = obj.get("home")
    settings = Settings.from_env(dsn=dsn, home=home, read_dsn=obj.get("read_dsn"))
    home_rule(settings, command_path(ctx))
    return settings


def connection(ctx: typer.Context, *, migrate: bool = True) -> psycopg.Connection:
    """An autocommit connection for this command, migrated first unless it only reads."""
    from ledger.db.connect import connect

    return connect(settings_from(ctx), migrate=migrate)


def read_connection(ctx: typer.Context) -> psycopg.Connection:
    """A connection for a command that only reads: the replica (--read-dsn) if one is set,
    else the primary; never migrates, never writes (ledger.db.connect.read_connection)."""
    from ledger.db.connect import read_connection as open_read

    return open_read(settings_from(ctx))


def err(message: str) -> None:
    """A diagnostic line on stderr (terminal controls escaped: it may quote a writer's input)."""
    typer.echo("\n".join(printable(line) for line in message.split("\n")), err=True)


def say(text: str) -> None:
    """Human-readable text on stdout, each line through `printable`.

    Why: a command's lines quote what writers recorded (tool names, args, explanations quoting
    them); printed raw, an escape sequence in them could clear the screen, fake a verdict or
    retitle the terminal. Line breaks of the text itself are kept.
    """
    typer.echo("\n".join(printable(line) for line in text.split("\n")))


def emit_json(value: Any) -> None:
    """JSON on stdout, stable key order."""
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table (stable for tests and copy-paste).

    Every cell goes through `printable` here, once for every command: cells hold names a writer
    chose (agent, user), and escaping before measuring keeps the columns aligned as well.
    """
    rows = [[printable(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)
