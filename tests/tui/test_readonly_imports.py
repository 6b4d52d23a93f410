"""`ledger tui --readonly` rests on the read-only app never importing a write API.

A fresh interpreter starts the read-only app headless (Textual Pilot), verifies the ledger from
the board, walks a timeline with the inspector, trace / stop / undo (planning and the dry run
are reads: compensators are looked up in `replay.undo.compensators`, not the executor), and
replay with a policy re-evaluation, then lists which write modules got imported: there must be
none. A fresh interpreter because this test process has imported all of them already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ledger.config import Settings

WRITE_MODULES = (
    "ledger.operator",
    "ledger.stops",
    "ledger.store.door",
    "ledger.store.append",
    "replay.undo.executor",
    "tui.writer",
)

_SCRIPT = """
import asyncio, json, sys
from ledger.config import Settings
from tui.app import LedgerApp

async def settle(pilot):
    for _ in range(6):
        busy = [w for w in pilot.app.workers if w.group != "listen"]
        if busy:
            await pilot.app.workers.wait_for_complete(busy)
        await pilot.pause()

async def main():
    app = LedgerApp(Settings.from_env(), readonly=True, snapshot=True, user="auditor")
    screens = []
    async with app.run_test(size=(120, 36)) as pilot:
        for keys in (["V"], ["down", "enter"], ["down", "down"], ["S"], ["2"], ["1"], ["P"],
                     ["y"], ["escape", "R"], ["p", "c"], ["escape", "escape", "l"]):
            await pilot.press(*keys)
            await settle(pilot)
            screens.append(type(pilot.app.screen).__name__)
    print(json.dumps({"screens": screens, "error": app.last_error,
                      "write_modules": [m for m in sys.argv[1:] if m in sys.modules]}))

asyncio.run(main())
"""


def test_readonly_app_imports_no_write_api(
    ledger_settings: Settings, seeded: dict[str, str]
) -> None:
    env = {
        **os.environ,
        "LEDGER_DSN": ledger_settings.dsn or "",
        "LEDGER_HOME": str(ledger_settings.home),
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *WRITE_MODULES],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        timeout=120,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["screens"] == [
        "BoardScreen",
        "TimelineScreen",
        "TimelineScreen",
        "TraceStopUndoScreen",
        "TraceStopUndoScreen",
        "TraceStopUndoScreen",
        "TraceStopUndoScreen",
        "TraceStopUndoScreen",
        "ReplayScreen",
        "ReplayScreen",
        "TimelineScreen",
    ], report
    assert report["error"] is None
    assert report["write_modules"] == []
