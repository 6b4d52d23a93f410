"""Pilot helpers shared by the TUI workflow tests: play a scenario, type, read widgets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg
from textual.widgets import Static

from tests.tui.conftest import SIZE, settle

Scenario = Callable[[Any], Awaitable[None]]


def play(app: Any, scenario: Scenario, size: tuple[int, int] = SIZE) -> None:
    """Run the app headless and drive it with `scenario(pilot)`."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await scenario(pilot)

    asyncio.run(main())


async def type_text(pilot: Any, text: str) -> None:
    """Type characters one key at a time."""
    keys = {
        " ": "space",
        "#": "number_sign",
        ".": "full_stop",
        ":": "colon",
        "/": "slash",
        "-": "minus",
    }
    await pilot.press(*[keys.get(c, c) for c in text])


def text_of(pilot: Any, selector: str) -> str:
    """Plain text of a Static."""
    widget = pilot.app.screen.query_one(selector, Static)
    return str(widget.render())


def events_of_type(conn: psycopg.Connection, kind: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT body FROM ledger_events WHERE type = %s ORDER BY seq", (kind,)
    ).fetchall()
    return [orjson.loads(bytes(r[0])) for r in rows]
