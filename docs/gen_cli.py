"""Generate docs/cli.md from the real `--help` of every `ledger` command and sub-command.

Why generated: the README and the docs name commands and flags; a reference written by hand
drifts the moment someone adds an option. This script asks the installed `ledger` command itself
(`COLUMNS=100 NO_COLOR=1 ledger ... --help`, rendered by the real Typer app in a fresh
subprocess) for every command discovered from Typer's click group, so new commands appear as
soon as they are registered. tests/docs/test_cli_reference.py regenerates the page in memory
and fails when docs/cli.md is stale. Rerun after adding or changing a command:

    .venv/bin/python docs/gen_cli.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

import ledger.cli
from ledger.errors import ExitCode

__all__ = [
    "CLI_MD",
    "all_help_texts",
    "command_paths",
    "exit_code_table",
    "help_text",
    "ledger_bin",
    "main",
    "render",
]

CLI_MD = Path(__file__).resolve().parent / "cli.md"

_HEADER = """\
# CLI reference

Generated from `ledger ... --help` by `docs/gen_cli.py` (do not edit by hand; rerun
`.venv/bin/python docs/gen_cli.py` after changing a command; `tests/docs/test_cli_reference.py`
fails while this page is stale).

Global options (`--dsn` / `LEDGER_DSN`, `--home` / `LEDGER_HOME`) go **before** the command:
`ledger --dsn postgresql://... verify`. Data goes to stdout, diagnostics to stderr: an error is
one line, `error: <what and why>`, never a traceback.

Conventions shared by every command:
- `--as PRINCIPAL` names who acts wherever an actor is recorded (`undo plan|approve|apply`,
  `redact`, `export`, `tui`). The old `--by`, `--approver`, `--operator`, `--authorised-by` and
  `--user` still work for one release and print a deprecation note on stderr.
- Every time option (`--since`, `--until`, `--now`) takes a date (`2026-11-24`), a date-time
  (`2026-11-24T10:00`, no zone means UTC; `Z` or `+02:00` allowed) or a relative `30m`, `24h`,
  `7d` (that long ago).
- `--json` prints machine-readable JSON on stdout.
"""


def exit_code_table() -> str:
    """The exit-code table, from `ledger.errors.ExitCode` (the one source)."""
    rows = [f"| {int(code)} | `{code.name}` | {code.meaning} |" for code in ExitCode]
    return "\n".join(["## Exit codes", "", "| code | name | meaning |", "|---|---|---|", *rows, ""])


def ledger_bin() -> str:
    """The `ledger` console script of this interpreter's environment (else the one on PATH)."""
    beside = Path(sys.executable).parent / "ledger"
    if beside.exists():
        return str(beside)
    found = shutil.which("ledger")
    if found is None:
        raise SystemExit("gen_cli: no `ledger` command found (install the project first)")
    return found


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    # Duck-typed: Typer >= 0.2x vendors click, so its groups are not `click.Group` instances.
    yield path
    commands: dict[str, Any] = getattr(command, "commands", None) or {}
    for name in sorted(commands):
        if not getattr(commands[name], "hidden", False):
            yield from _walk(commands[name], (*path, name))


def command_paths() -> list[tuple[str, ...]]:
    """Root first, then every visible command and sub-command in alphabetical order."""
    return list(_walk(typer.main.get_command(ledger.cli.app), ()))


def help_text(path: tuple[str, ...]) -> str:
    """`ledger <path> --help` as a real process, trailing blanks stripped."""
    proc = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [ledger_bin(), *path, "--help"],
        capture_output=True,
        env=_help_env(),
        timeout=120,
        check=False,
        text=True,
    )
    if proc.returncode != 0:
        command = " ".join(("ledger", *path))
        raise RuntimeError(f"{command} --help exited {proc.returncode}: {proc.stderr}")
    return _clean(proc.stdout)


def _help_env() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("FORCE_COLOR", None)
    return env


def _clean(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _dump_all() -> None:
    """Child-process side of `all_help_texts`: every help page as one JSON list on stdout."""
    texts: list[str] = []
    for path in command_paths():
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            ledger.cli.app(args=[*path, "--help"], prog_name="ledger", standalone_mode=True)
        texts.append(_clean(buffer.getvalue()))
    print(json.dumps(texts))


def all_help_texts() -> list[str]:
    """Every help page, rendered by the real CLI app in ONE fresh process.

    One process instead of one per command: importing the CLI takes over a second, and the
    reference has dozens of pages. The child runs the same Typer app as the `ledger` script with
    the same environment; tests/docs/test_cli_reference.py checks that the root page equals the
    output of the real `ledger --help` process.
    """
    proc = subprocess.run(  # noqa: S603 - this interpreter and this file, fixed arguments
        [sys.executable, str(Path(__file__).resolve()), "--dump-help"],
        capture_output=True,
        env=_help_env(),
        timeout=300,
        check=False,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"gen_cli --dump-help exited {proc.returncode}: {proc.stderr}")
    texts: list[str] = json.loads(proc.stdout)
    return texts


def render() -> str:
    """The whole of docs/cli.md."""
    paths = command_paths()
    texts = all_help_texts()
    parts = [_HEADER, exit_code_table()]
    parts.append("Commands: " + ", ".join(f"[`{_name(p)}`](#{_anchor(p)})" for p in paths[1:]))
    parts.append("")
    for path, text in zip(paths, texts, strict=True):
        parts.append(f"## {_name(path)}\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("ledger", *path))


def _anchor(path: tuple[str, ...]) -> str:
    return "-".join(("ledger", *path)).replace(" ", "-")


def main() -> None:
    """Write docs/cli.md."""
    CLI_MD.write_text(render(), encoding="utf-8")
    print(f"wrote {CLI_MD}", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] == ["--dump-help"]:
        _dump_all()
    else:
        main()
