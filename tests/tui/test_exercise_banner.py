"""Issue 18 item 5: the EXERCISE banner is on every screen of an exercise (board, exercise
console, timeline, trace/stop/undo, replay, help), and on none outside an exercise."""

from __future__ import annotations

from typing import Any

from ledger.config import Settings
from tests.tui.conftest import settle
from tests.tui.pilotkit import play
from tests.tui.test_exercise import EXERCISE


def _banner(pilot: Any) -> str:
    found = pilot.app.screen.query(".exercise-banner")
    assert len(found) == 1, type(pilot.app.screen).__name__
    return str(found.first().render())


def test_banner_on_every_screen_of_an_exercise(
    ledger_settings: Settings, seeded: dict[str, str], make_app: Any
) -> None:
    from tui.screens.replay import ReplayScreen

    app = make_app(exercise=EXERCISE)
    seen: dict[str, str] = {}

    async def scenario(pilot: Any) -> None:
        run_id = pilot.app.exercise.run_id
        seen[type(pilot.app.screen).__name__] = _banner(pilot)
        for keys in (["t"], ["escape", "s"], ["escape", "question_mark"], ["escape", "escape"]):
            await pilot.press(*keys)
            await settle(pilot)
            seen[type(pilot.app.screen).__name__] = _banner(pilot)
        pilot.app.push_screen(ReplayScreen(run_id))
        await settle(pilot)
        seen["ReplayScreen"] = _banner(pilot)

    play(app, scenario)
    assert set(seen) == {
        "ExerciseScreen", "TimelineScreen", "TraceStopUndoScreen", "HelpScreen", "BoardScreen",
        "ReplayScreen",
    }  # fmt: skip
    for text in seen.values():
        assert text.startswith(" EXERCISE · Inbox prompt injection") and "not production" in text


def test_no_banner_outside_an_exercise(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        assert not pilot.app.screen.query(".exercise-banner")

    play(make_app(), scenario)
