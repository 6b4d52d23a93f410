"""The root command group: every command is an entry point, imported only when it is named.

Why: `ledger --help` and `ledger verify` must not pay for (or depend on) the replay engine,
Arrow, Textual or the agent frameworks. Each layer registers its commands in pyproject.toml under
the entry-point group `agent_ledger.commands`, one registration style for all of them:

    [project.entry-points."agent_ledger.commands"]
    verify = "ledger.cli.verify_cmd:app"     # a typer.Typer with one command: `ledger verify`
    undo = "replay.cli.undo_cmd:app"         # a typer.Typer with several: `ledger undo plan`

A Typer with one command becomes that command, one with several (or a callback) a group, as
`typer.main.get_command` decides. Command modules keep their heavy imports inside the command
functions, so listing the commands for `--help` imports only Typer and the options.

Help is click's plain formatting, not Typer's Rich panels: importing `typer.rich_utils` pulls in
Rich's Markdown (markdown-it), Syntax (Pygments) and Traceback, which alone took longer than the
rest of `ledger --help` together (issue 18: `--help` within 25x a bare Python start). Each
command's line in a listing is its whole first sentence, never cut at 45 characters.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer._click.utils import make_default_short_help
from typer.core import TyperGroup

from ledger.plugins import COMMANDS, PluginError, Registered, registered

__all__ = ["CommandGroup", "LazyCommands", "to_command"]


def to_command(name: str, target: object) -> Any:
    """The click command for an entry point's Typer, named as the entry point is."""
    if not isinstance(target, typer.Typer):
        raise PluginError(f"command {name!r} must name a typer.Typer, got {type(target).__name__}")
    command = typer.main.get_command(target)
    command.name = name
    _plain(command)
    return command


def _plain(command: Any) -> None:
    """Plain help for `command` and its sub-commands (module docstring), first sentence whole."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    if command.short_help is None and command.help:
        command.short_help = make_default_short_help(command.help, max_length=1_000)
    for sub in getattr(command, "commands", {}).values():
        _plain(sub)


def _unloadable(name: str, error: PluginError) -> Any:
    """A stand-in that lists the load error in `--help` and raises it when run."""
    stand_in = typer.Typer(add_completion=False)

    @stand_in.command(
        name,
        help=f"(cannot be loaded: {error})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def fail() -> None:
        raise error

    return to_command(name, stand_in)


class LazyCommands(MutableMapping[str, Any]):
    """Command name -> click command, loading an entry point the first time its name is read."""

    def __init__(self, points: dict[str, Registered]) -> None:
        self._points = points
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            point = self._points[name]  # KeyError for an unknown name, as a dict would
            try:
                self._loaded[name] = to_command(name, point.load())
            except PluginError as exc:  # one broken plug-in must not take `--help` down
                self._loaded[name] = _unloadable(name, exc)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._points.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._points, *self._loaded}))

    def __len__(self) -> int:
        return len({*self._points, *self._loaded})

    def __contains__(self, name: object) -> bool:
        return name in self._points or name in self._loaded


class CommandGroup(TyperGroup):
    """The root `ledger` group (pass as `typer.Typer(cls=CommandGroup)`)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(registered(COMMANDS))
