"""Issue 18 item 2: the board survives any data. A run started twice by re-ingesting README's own
line, a run without run.ended, hostile names (escapes, newlines, bidi overrides, markup, a 300
character string) and a listing that names one run twice: the board shows them, literally, with
the verdict visible at 80x24, and `r` reloads it (row keys are unique by construction and a
refresh is built whole before it is swapped in, tui/boardview.py)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from rich.text import Text
from textual.widgets import DataTable

from ledger.config import Settings
from ledger.ingest import ingest
from tests.safe_corpus import CORPUS, assert_no_raw
from tests.tui.conftest import settle
from tests.tui.pilotkit import text_of
from tui.boardview import board_lines
from tui.data import BoardData, BoardRun
from tui.messages import BoardLoaded

README_RUN = "6f1f7d4e-0d1c-4b9e-9a51-2f0c1d0b7a11"
README_LINE = json.dumps(
    {"type": "run.started", "run_id": README_RUN, "data": {"task": "nightly sync"}}
).encode()
HOSTILE_RUN = "0193a1b2-7c00-7000-8000-0000000018b2"
HUGE = "A" * 300  # names are capped at 512 characters at the door
NAME = "ev\nil\r" + CORPUS + "[bold]x" + HUGE


def _cells(table: DataTable[Any], row: int) -> dict[str, str]:
    """Plain text of one rendered row, by column key."""
    out = {}
    for column in table.ordered_columns:
        cell = table.get_cell_at((row, table.get_column_index(column.key)))  # type: ignore[arg-type]
        out[str(column.key.value)] = cell.plain if isinstance(cell, Text) else str(cell)
    return out


@pytest.fixture
def feed(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> Any:
    """`ledger ingest -` in-process (the function the command calls): every line sequenced."""

    def run(line: bytes) -> None:
        result = ingest(ledger_conn, [line], ledger_settings)
        assert not result.rejected, result.rejected

    return run


def _hostile_line() -> bytes:
    """A run without run.ended whose agent, user and task are hostile text."""
    event = {
        "type": "run.started",
        "run_id": HOSTILE_RUN,
        "agent": {"name": NAME},
        "principal": {"initiating_user": NAME},
        "data": {"task": NAME},
    }
    return json.dumps(event).encode()


def test_readme_line_ingested_twice_keeps_the_board_alive(feed: Any, make_app: Any) -> None:
    for _ in range(2):  # README's `echo … | ledger ingest -`, run twice: no event_id
        feed(README_LINE)
    app = make_app()

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            runs = app.screen.query_one("#runs", DataTable)
            assert runs.row_count == 1
            row = _cells(runs, 0)
            assert row["run"] == README_RUN[:13] and row["status"] == "running"
            assert row["events"] == "2"  # both run.started, in one run
            assert "runs 1/1" in text_of(pilot, "#chain-status")
            feed(README_LINE)  # a third time
            await pilot.press("r")
            await settle(pilot)
            assert _cells(runs, 0)["events"] == "3"

    asyncio.run(main())


def test_one_run_listed_twice_shows_both_rows_and_reloads(feed: Any, make_app: Any) -> None:
    """A listing naming one run twice (the DuplicateKey that froze the board) shows two rows."""
    feed(README_LINE)
    app = make_app()

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            board = app.screen.board
            assert isinstance(board, BoardData) and len(board.runs) == 1
            twice = replace(board, runs=[board.runs[0], BoardRun(*_fields(board.runs[0]))])
            app.screen.post_message(BoardLoaded(twice))
            await settle(pilot)
            runs = app.screen.query_one("#runs", DataTable)
            assert runs.row_count == 2
            assert {_cells(runs, i)["run"] for i in range(2)} == {README_RUN[:13]}
            assert app.screen.selected_run() == README_RUN
            await pilot.press("r")  # and the next refresh replaces both, whole
            await settle(pilot)
            assert runs.row_count == 1
            assert "runs 1/1" in text_of(pilot, "#chain-status")
            broken = replace(board, runs=[None])  # type: ignore[list-item]
            app.screen.post_message(BoardLoaded(broken))  # a refresh that cannot be built
            await settle(pilot)
            assert runs.row_count == 1 and "runs 1/1" in text_of(pilot, "#chain-status")
            assert "board not refreshed (r retries)" in list(app._notifications)[-1].message

    asyncio.run(main())


def _fields(run: BoardRun) -> tuple[Any, Any]:
    return run.summary, run.verdict


def test_keys_are_unique_by_construction() -> None:
    from ledger.store.read import RunSummary
    from tui.verdicts import VerdictState

    summary = RunSummary(
        README_RUN, "o/default", None, None, "2026-12-05T00:00:00Z", "running", 1  # type: ignore[arg-type]
    )
    verdict = VerdictState("missing")
    lines = board_lines([(summary, verdict)] * 3, marked=set())
    assert len({line.key for line in lines}) == 3
    assert {line.run_id for line in lines} == {README_RUN}


def test_hostile_names_and_no_run_ended_at_80x24(feed: Any, make_app: Any) -> None:
    feed(_hostile_line())
    app = make_app()

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            runs = app.screen.query_one("#runs", DataTable)
            row = _cells(runs, 0)
            assert row["agent"] == row["user"] == "ev\\x0ail\\x0d\\x1b[…"  # clipped, literal
            assert row["status"] == "running"  # no run.ended
            assert row["verdict"]  # the verdict column is drawn
            assert_no_raw("".join(row.values()))
            screen = _screen_text(app)
            assert "verdict" in screen.splitlines()[3]  # the header line of the table, at 80 cols
            assert "fail" in screen or "unknown" in screen or "missing" in screen
            assert HUGE[:100] not in screen
            assert_no_raw(screen)

    asyncio.run(main())


def _screen_text(app: Any) -> str:
    """What the terminal shows, as text (lines of the rendered screen)."""
    strips = app.screen._compositor.render_strips()  # the frame the terminal would get
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def test_status_marks_imported_exercise_and_stopped_runs() -> None:
    """Imported history, a tabletop's runs and an open run under an active agent stop are
    marked apart; a run that ended is not marked as under a stop (nothing left to halt)."""
    import uuid
    from datetime import UTC, datetime

    from ledger.store.read import RunSummary
    from ledger.store.stops import StopRow
    from tui.verdicts import VerdictState

    def run(origin: str, status: str, **kw: Any) -> tuple[RunSummary, VerdictState]:
        summary = RunSummary(
            uuid.uuid4(), origin, "ops", None, "2026-12-05T00:00:00Z", status, 1, **kw
        )
        return summary, VerdictState("rechecked")

    stop = StopRow(1, "o/default", "agent:ops", None, uuid.uuid4(), "dana", "", None,
                   datetime.now(UTC), lifted=False)  # fmt: skip
    runs = [
        run("o/default", "succeeded", imported=True),
        run("o/exercise-red", "running"),
        run("o/default", "running"),
        run("o/default", "stopped"),
    ]
    lines = board_lines(runs, marked=set(), stops=[stop])
    status = [line.cells[3].plain for line in lines]
    assert status == [
        "succeeded ⇣imported",
        "running ⚑exercise",
        "running ■stop",
        "stopped",
    ]
    assert "magenta" in str(lines[3].cells[3].style)
