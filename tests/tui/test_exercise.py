"""Tabletop exercise: namespace, timers, dry-run stop and undo, decisions, AAR Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from ledger.config import Settings
from tests.tui.conftest import settle
from tests.tui.pilotkit import play, text_of, type_text
from tui.exercise import Exercise, ExerciseError

EXERCISE = Path(__file__).resolve().parents[2] / "tui" / "exercises" / "inbox-injection.yaml"


class Clock:
    """A hand-driven clock so exercise timers are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_exercise_file_parses_and_report_shape() -> None:
    ex = Exercise.load(EXERCISE)
    assert ex.tenant == "exercise-inbox-injection"
    assert len(ex.injects) == 4 and ex.injects[2].at_seconds is None
    clock = Clock()
    ex.clock = clock
    ex.start()
    clock.now += 130
    assert [i.id for i in ex.due_injects()] == ["I1", "I2"]
    assert ex.release_next_manual() is not None
    assert ex.mark("trace") and not ex.mark("trace")
    finding = ex.add_finding("action: require approval for refunds > 500 @farid by 2026-12-15")
    assert (finding.owner, finding.due, finding.text) == (
        "farid",
        "2026-12-15",
        "require approval for refunds > 500",
    )
    with pytest.raises(ExerciseError):
        ex.add_finding("idea: something")
    report = ex.report("2026-11-24")
    assert "| time-to-trace | 130s | 300s | yes |" in report
    assert "| require approval for refunds > 500 | farid | 2026-12-15 |" in report
    assert "- time-to-stop not reached during the exercise" in report


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
        await type_text(pilot, "gap: no refund approval")
        await pilot.press("enter")
        await pilot.press("w")
        await settle(pilot)

    play(app, scenario)
    ex = app.exercise
    assert ex.marks == {"trace": 95.0, "stop": 295.0, "undo_plan": 395.0}
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
    assert "| time-to-trace | 95s | 300s | yes |" in report
    assert "| time-to-undo-plan | 395s | 900s | yes |" in report
    assert "- no refund approval" in report
    assert "I3 (manual): Key person unavailable" in report and "released T+395s" in report
