"""Issue 18 item 5: a timer stops when the facilitator marks the question answered (with who),
not when a panel opens; the record is in the ledger, so a new app on the same exercise resumes
it (clock, answers, ratings, discussion, findings) and `w` regenerates the full report from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from tests.tui.conftest import settle
from tests.tui.pilotkit import events_of_type, play, text_of, type_text
from tests.tui.test_exercise import EXERCISE, Clock


async def _form(pilot: Any, key: str, text: str, clear: bool = False) -> None:
    """Open a facilitator's form with `key`, type `text`, submit."""
    await pilot.press(key)
    await pilot.pause()
    if clear:
        await pilot.press("ctrl+u")  # the who-form is prefilled with the acting user
    await type_text(pilot, text)
    await pilot.press("enter")
    await settle(pilot)


def _first_session(app: Any, clock: Clock) -> None:
    async def scenario(pilot: Any) -> None:
        clock.now += 105  # (opening panels stops no timer: test_exercise_played_end_to_end)
        assert pilot.app.exercise.answered("trace") is None
        await _form(pilot, "1", "alice", clear=True)  # a name the facilitator types
        clock.now += 30
        await _form(pilot, "2", "")  # Enter: the acting user (`--as`)
        await _form(pilot, "r", "2 S slow to find the stop key")
        await _form(pilot, "n", "1 the email at seq 3")
        await _form(pilot, "f", "gap: no refund approval #2")
        await _form(pilot, "f", "action: approval for refunds @farid by 2026-12-15 #2")
        await pilot.press("w")
        await settle(pilot)

    play(app, scenario)


def test_answer_stops_the_timer_and_reopening_resumes_the_record(
    ledger_settings: Settings,
    ledger_conn: psycopg.Connection,
    seeded: dict[str, str],
    make_app: Any,
) -> None:
    clock = Clock()
    first = make_app(exercise=EXERCISE)
    first.exercise.clock = clock
    _first_session(first, clock)
    answered = [e["data"] for e in events_of_type(ledger_conn, "exercise.answered")]
    assert [(a["milestone"], a["answered_by"], a["elapsed_ms"]) for a in answered] == [
        ("trace", "alice", 105_000),
        ("stop", "tester", 135_000),
    ]
    assert {a["recorded_by"] for a in answered} == {"tester"}  # the facilitator (`--as`)
    aar = ledger_settings.home / "exercises" / "inbox-injection" / "aar.md"
    assert "| time-to-trace | T+105s | alice | 300s | yes |" in aar.read_text()

    clock.now += 300  # the exercise is reopened five minutes later, in a new app
    second = make_app(exercise=EXERCISE)
    second.exercise.clock = clock

    async def reopened(pilot: Any) -> None:
        ex = pilot.app.exercise
        assert ex.run_id == first.exercise.run_id  # the scenario is not seeded again
        assert round(ex.elapsed()) == 435  # the clock continues from the recorded start
        assert ex.answered("trace") == 105.0 and ex.answered("stop") == 135.0
        assert ex.record.ratings[1].rating == "S" and len(ex.record.findings) == 2
        live = text_of(pilot, "#exercise-live")
        assert "answered by alice" in live and "answered by tester" in live
        await pilot.press("1")  # already answered: refused, the record stands
        await settle(pilot)
        assert type(pilot.app.screen).__name__ == "ExerciseScreen"
        aar.unlink()
        await pilot.press("w")
        await settle(pilot)

    play(second, reopened)
    assert len(events_of_type(ledger_conn, "exercise.started")) == 1
    assert len(events_of_type(ledger_conn, "exercise.answered")) == 2
    _assert_full_report(aar)


def _assert_full_report(aar: Path) -> None:
    report = aar.read_text()
    for line in (
        "| time-to-trace | T+105s | alice | 300s | yes |",
        "| time-to-stop | T+135s | tester | 600s | yes |",
        "- Rating: Performed with some challenges (S), by tester: slow to find the stop key",
        "   - Answer: the email at seq 3 (recorded by tester)",
        "- no refund approval (recorded by tester)",
        "| approval for refunds | farid | 2026-12-15 |",
        "| I1 | T+0s | T+0s | schedule |",
        "| I2 | T+120s | T+135s | schedule |",
        "- Facilitator: tester",
    ):
        assert line in report, line
