"""`?` help shows keys as keys (`?`, `#`, `.`, `^t`), on every screen that has bindings.

Issue 18: the help screen printed binding names (`question_mark`, `number_sign`,
`full_stop`). It now renders each key through Textual's `App.get_key_display`, as the footer
does; this walks the real screens (board, timeline, trace/stop/undo, replay, export, exercise)
and reads the table the help screen shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from textual.keys import KEY_DISPLAY_ALIASES
from textual.widgets import Static

from tests.tui.conftest import settle
from tests.tui.pilotkit import play

EXERCISE = Path(__file__).resolve().parents[2] / "tui" / "exercises" / "inbox-injection.yaml"
# What a key cell may hold: a printable character, ^x, or one of Textual's display words.
WORDS = {"tab", "home", "end", "insert", *KEY_DISPLAY_ALIASES.values()}
MODIFIERS = {"shift", "alt", "meta", "super", "hyper"}


def _key_cells(pilot: Any) -> list[str]:
    screen = pilot.app.screen
    assert type(screen).__name__ == "HelpScreen"
    table = screen.query_one("VerticalScroll > Static", Static).content
    assert isinstance(table, Table)
    return [str(cell) for cell in table.columns[0].cells]


def _assert_keys_read_as_keys(cells: list[str], where: str) -> None:
    for cell in cells:
        for token in cell.split(" "):
            *modifiers, key = token.split("+") if len(token) > 1 else [token]
            key = key.removeprefix("^") if len(key) > 1 else key
            ok = (len(key) == 1 or key in WORDS) and set(modifiers) <= MODIFIERS
            assert ok, f"{where}: key {token!r} of {cell!r} is a binding name, not a key"


async def _help_on(pilot: Any, where: str, *must: str) -> None:
    await pilot.press("question_mark")
    await settle(pilot)
    cells = _key_cells(pilot)
    _assert_keys_read_as_keys(cells, where)
    for key in ("?", "^t", *must):
        assert any(key in cell.split(" ") for cell in cells), (where, key, cells)
    await pilot.press("escape")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ != "HelpScreen"


def test_help_shows_keys_on_every_screen(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        await _help_on(pilot, "board", "⏎", "space", "s", "R")
        await pilot.press("enter")
        await settle(pilot)
        await _help_on(pilot, "timeline", "#", "esc")
        await pilot.press("S")
        await settle(pilot)
        await _help_on(pilot, "trace/stop/undo", "1", "P")
        await pilot.press("escape", "escape")
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        await _help_on(pilot, "replay", ",", ".", "space")
        await pilot.press("escape", "e")
        await settle(pilot)
        assert type(pilot.app.screen).__name__ == "ExportScreen"
        pilot.app.action_help()  # its form has the focus: `?` is typed there
        await settle(pilot)
        cells = _key_cells(pilot)
        _assert_keys_read_as_keys(cells, "export")
        assert any("^e" in cell.split(" ") for cell in cells)

    play(make_app(), scenario)


def test_help_shows_keys_on_the_exercise_screen(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        assert type(pilot.app.screen).__name__ == "ExerciseScreen"
        await _help_on(pilot, "exercise", "esc", "t", "w")

    play(make_app(exercise=EXERCISE), scenario)
