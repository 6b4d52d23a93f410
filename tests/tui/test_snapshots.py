"""SVG snapshots of the main screens (pytest-textual-snapshot).

Deterministic by construction: seeded runs have fixed ids and timestamps, the app runs in
snapshot mode (record times, clocks and plan digests hidden, no LISTEN loop), the input cursor
does not blink. Regenerate deliberately with `--snapshot-update` and read the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.tui.conftest import settle
from tests.tui.test_exercise import EXERCISE


def keys(*presses: str) -> Callable[[Any], Any]:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_board(seeded: dict[str, str], make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(), run_before=keys(), terminal_size=(120, 36))


def test_board_80x24_light(seeded: dict[str, str], make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(), run_before=keys("ctrl+t"), terminal_size=(80, 24))


def test_timeline_with_inspector(seeded: dict[str, str], make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(
        make_app(),
        run_before=keys("down", "enter", "down", "down", "down", "down"),
        terminal_size=(150, 40),
    )


def test_timeline_80x24(seeded: dict[str, str], make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(
        make_app(), run_before=keys("down", "enter", "down"), terminal_size=(80, 24)
    )


def test_undo_plan(seeded: dict[str, str], make_app: Any, snap_compare: Any) -> None:
    assert snap_compare(make_app(), run_before=keys("down", "s", "y"), terminal_size=(120, 36))


def test_exercise_console(seeded: dict[str, str], make_app: Any, snap_compare: Any) -> None:
    app = make_app(exercise=EXERCISE)
    app.exercise.clock = lambda: 0.0
    assert snap_compare(app, run_before=keys(), terminal_size=(120, 36))
