"""Live updates recover after a database restart (issue 18 item 1), driven through Pilot.

The app runs on a private copy of a demo home with its own embedded server (the shared test
server is not restarted under other tests). The server is stopped under the running app: the
header says `reconnecting`; a run is appended once it is up again, before the loop's next
attempt; after the reconnection the header says `live` and the board shows the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from ledger.config import Settings
from ledger.db.embedded import embedded_dsn, stop_embedded
from tests.tui.tmuxkit import cold_home, demo_template, write_run
from tui.app import LedgerApp

__all__ = ["cold_home", "demo_template"]  # fixtures used below


async def until(pilot: Any, ok: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Pump the app until `ok()` (the server and the loop are other threads and processes)."""
    deadline = time.monotonic() + seconds
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened (header: {pilot.app.sub_title!r})")
        await pilot.pause(0.05)


def run_ids(app: LedgerApp) -> set[str]:
    table = app.screen.query_one("#runs", DataTable)
    return {str(key.value).split("\x00")[1] for key in table.rows}  # key: origin NUL run id


def test_live_updates_recover_after_a_database_restart(cold_home: Path) -> None:
    app = LedgerApp(Settings(home=cold_home), user="tester")
    app.backoff = (0.2, 3.0)  # a quick first retry, then time to write while it is down

    async def main() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.live_state == "live" and len(run_ids(app)) == 1,
                        "the loaded board, live")  # fmt: skip
            await asyncio.to_thread(stop_embedded, cold_home / "pgdata")
            await until(pilot, lambda: "attempt 2 in 3 s" in app.sub_title, "reconnecting")
            assert app.sub_title.startswith("reconnecting (attempt 2 in 3 s: ")
            await asyncio.to_thread(embedded_dsn, cold_home / "pgdata")
            run_id = await asyncio.to_thread(write_run, cold_home, "while-disconnected")
            await until(pilot, lambda: run_id in run_ids(app), "the run written meanwhile")
            assert app.sub_title == "live"
            await pilot.press("q")

    asyncio.run(main())
