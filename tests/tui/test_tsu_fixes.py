"""INCIDENT18 fixes in Trace / Stop / Undo: tab keys leave the Stop pane whatever holds focus,
an ended run's stop defaults to its agent@version, and the stop form fits 80x24."""

from __future__ import annotations

from typing import Any

import psycopg
from textual.widgets import TabbedContent

from tests.tui.conftest import settle
from tests.tui.pilotkit import play


async def _open(pilot: Any, run_id: str, tab: str = "trace") -> None:
    from tui.screens.tsu import TraceStopUndoScreen

    await pilot.app.push_screen(TraceStopUndoScreen(run_id, tab=tab))
    await settle(pilot)


def test_tab_keys_leave_the_stop_pane_from_its_buttons_and_scope_list(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any
) -> None:
    """`3` / `1` switch tabs even when a Stop button or the scope list has focus (INCIDENT18 #3:
    TabbedContent re-activated the pane holding the focus)."""

    async def scenario(pilot: Any) -> None:
        await _open(pilot, seeded["incident"])
        tabs = pilot.app.screen.query_one("#tsu-tabs", TabbedContent)
        for widget, key, want in (
            ("#stop-button", "3", "undo"),
            ("#stop-scope", "1", "trace"),
        ):
            await pilot.press("2")
            await settle(pilot)
            assert tabs.active == "stop"
            pilot.app.screen.query_one(widget).focus()
            await settle(pilot)
            await pilot.press(key)
            await settle(pilot)
            assert tabs.active == want, (widget, key, tabs.active)

    play(make_app(), scenario)
