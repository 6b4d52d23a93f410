"""The board header shows the intake backlog as `ledger verify` does (issue 15 item 3)."""

from __future__ import annotations

from typing import Any

import psycopg

from ledger.config import Settings
from tests.pg.test_intake_backlog import make_waiting
from tests.tui.pilotkit import play, text_of


def test_board_header_flags_a_stalled_intake(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any
) -> None:
    make_waiting(ledger_conn, ledger_settings)

    async def scenario(pilot: Any) -> None:
        header = text_of(pilot, "#chain-status")
        assert "intake 2 STALLED (oldest 72" in header and "no sequencer running" in header

    play(make_app(), scenario)
