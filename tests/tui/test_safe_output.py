"""Issue 15 item 6: the TUI opened on a run whose agent host recorded escape sequences and Rich
markup (tests/safe_corpus.py) neither crashes nor renders the markup; control characters are shown
escaped on the board and in the timeline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable, Static

from tests.safe_corpus import AGENT, BALANCED, CORPUS, USER, assert_no_raw, jsonl
from tests.tui.conftest import SIZE, settle
from tui.widgets.event_log import EventLog


@pytest.fixture
def hostile(cli: Any) -> Any:
    """The hostile run recorded through the real `ledger ingest`."""
    res = cli("ingest", "-", input=jsonl())
    assert res.exit_code == 0, res.stderr
    return cli


def _cell_text(table: DataTable[Any], row: int, column: str) -> str:
    cell = table.get_row_at(row)[table.get_column_index(column)]
    return cell.plain if isinstance(cell, Text) else str(cell)


def test_tui_board_and_timeline_show_the_corpus_literally(
    hostile: Any, make_app: Any
) -> None:
    app = make_app()

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            _board_is_literal(app.screen.query_one("#runs", DataTable))
            await pilot.press("enter")
            await settle(pilot)
            _timeline_is_literal(app.screen.query_one(EventLog))
            await pilot.press("down", "down", "down")  # the tool call: its JSON in the inspector
            await settle(pilot)
            inspector = _static_text(app, "#inspector-body")
            assert "recomputed ✓" in inspector  # JSON's own \\u001b; the bidi override escaped
            assert '"tool": "send[red]x[/red]\\u001b[2J' in inspector and "\\u202egnp" in inspector
            assert_no_raw(inspector)
            await pilot.press("escape", "s")  # back to the board, then trace / stop / undo
            await settle(pilot)
            trace = _static_text(app, "#trace-body") + _static_text(app, "#stop-who")
            assert "usr[red]x[/red]\\x1b[2J" in trace
            assert_no_raw(trace)
            await pilot.press("escape", "R")  # and the replay
            await settle(pilot)
            state = _static_text(app, "#replay-state")
            assert "step 5/5" in state
            assert_no_raw(state)
            app.notify(f"stop refused: {AGENT}", title=USER)  # a toast quoting a writer's text
            await settle(pilot)
            toast = list(app._notifications)[-1]
            assert toast.message.startswith("stop refused: ag[red]x[/red]\\x1b[2J\\x1b[32mOK")
            assert not toast.markup
            assert_no_raw(toast.message + toast.title)

    asyncio.run(scenario())  # the app opened the board and the timeline without a MarkupError


def _static_text(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def _board_is_literal(runs: DataTable[Any]) -> None:
    assert runs.row_count == 1
    agent, user = _cell_text(runs, 0, "agent"), _cell_text(runs, 0, "user")
    # clipped so a long name cannot push the verdict off screen (whole in the Trace panel)
    assert agent == "ag[red]x[/red]\\x1…"
    assert user == "usr[red]x[/red]\\x…"
    assert_no_raw(agent + user)
    painted = "\n".join(runs.render_line(y).text for y in range(runs.size.height))
    assert "ag[red]x[/red]" in painted  # drawn as written, not as a red "x"
    assert_no_raw(painted)


def _timeline_is_literal(log: EventLog) -> None:
    assert log.count == 5
    rows = [log.row(i) for i in range(log.count)]
    tool = next(r for r in rows if r is not None and r.type == "tool.call.started")
    assert tool.tool == "send" + BALANCED + CORPUS  # kept as recorded, so a pivot still matches
    lines = [log.render_line(y).text for y in range(log.count)]
    assert_no_raw("\n".join(lines))
    drawn = next(line for line in lines if "tool.call.started" in line)
    assert "send[red]x[/red]\\x1b[2J" in drawn  # drawn as written, controls visible
