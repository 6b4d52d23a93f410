"""Helpers for the CLI-wide tests: every registered command's parameters, and `ledger.cli.main`
run in this process (the real entry point: the same parsing and one-line error mapping as the
console script, without a process start per call)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import typer

from tests.conftest import CliResult, run_main


@dataclass(frozen=True)
class Param:
    """One option or argument of one command, as registered."""

    command: str
    opts: tuple[str, ...]
    metavar: str | None
    hidden: bool
    annotation: Any
    info: Any  # typer's OptionInfo / ArgumentInfo (callback, help, ...)


def all_params() -> Iterator[Param]:
    """Every parameter of every command and subcommand the `ledger` group lists."""
    import click

    from ledger.cli import app

    root = typer.main.get_command(app)
    ctx = click.Context(root)

    def walk(command: Any, path: list[str]) -> Iterator[Param]:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), [*path, name])
            return
        for p in command.params:
            td = getattr(p, "type_descriptor", None)
            yield Param(" ".join(path), tuple(p.opts), p.metavar, bool(getattr(p, "hidden", 0)),
                        td.annotation if td else None, td.parameter_info if td else None)

    yield from walk(root, [])


Main = Callable[..., CliResult]


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Main:
    """Run `ledger ARGS...` through `ledger.cli.main` in this process: (exit code, out, err)."""
    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return run_main(monkeypatch, capsys, *args)

    return run
