"""Tabletop exercise: namespace, dry-run stop and undo, decisions, the AAR from the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import psycopg

from ledger.config import Settings
from tests.tui.conftest import settle
from tests.tui.pilotkit import play, text_of, type_text

EXERCISE = Path(__file__).resolve().parents[2] / "tui" / "exercises" / "inbox-injection.yaml"


class Clock:
    """A hand-driven wall clock (seconds) so exercise timers are exact."""

    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


def test_exercise_played_end_to_end(
    ledger_settings: Settings,
    ledger_conn: psycopg.Connection,
    seeded: dict[str, str],
    make_app: Any,
) -> None:
    app = make_app(exercise=EXERCISE)
    clock = Clock()
    app.exercise.clock = clock

    async def scenario(pilot: Any) -> None:
        assert type(pilot.app.screen).__name__ == "ExerciseScreen"
        assert "EXERCISE" in text_of(pilot, "#exercise-banner")
        run_id = pilot.app.exercise.run_id
        assert run_id is not None
        clock.now += 95
        await pilot.press("s")  # trace panel on the exercise run
        await settle(pilot)
        assert "run chain intact" in text_of(pilot, "#trace-body")
        clock.now += 200
        await pilot.press("2")
        await settle(pilot)
        await type_text(pilot, "outbound mail")
        await pilot.press("enter")
        await type_text(pilot, "STOP")
        await pilot.press("enter")
        await settle(pilot)
        clock.now += 100
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("i", "d")
        await type_text(pilot, "notify partner")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f")
        await type_text(pilot, "gap: no refund approval #2")
        await pilot.press("enter")
        await pilot.press("w")
        await settle(pilot)

    play(app, scenario)
    ex = app.exercise
    # the panels were reached then, but no timer stopped: nobody marked a question answered
    assert ex.marks == {"trace": 95.0, "stop": 295.0, "undo_plan": 395.0}
    assert ex.record.answers == {}
    origins = {r[0] for r in ledger_conn.execute("SELECT DISTINCT origin FROM ledger_events")}
    assert origins == {ledger_settings.origin(), ledger_settings.origin("exercise-inbox-injection")}
    # the stop was a dry run: no stop event anywhere, a decision annotation in the exercise log
    assert ledger_conn.execute(
        "SELECT count(*) FROM ledger_events WHERE type = 'run.stop.requested'"
    ).fetchone() == (0,)
    notes = [
        orjson.loads(bytes(r[0]))["data"]["text"]
        for r in ledger_conn.execute(
            "SELECT body FROM ledger_events WHERE type = 'annotation' AND origin = %s ORDER BY seq",
            (ledger_settings.origin("exercise-inbox-injection"),),
        )
    ]
    assert notes == ["DRY RUN stop: outbound mail", "DECISION: notify partner"]
    report = (ledger_settings.home / "exercises" / "inbox-injection" / "aar.md").read_text()
    assert "| time-to-trace | not answered | - | 300s | - |" in report
    assert "- no refund approval (recorded by tester)" in report
    assert "| I3 | manual | T+395s | tester | Key person unavailable" in report
