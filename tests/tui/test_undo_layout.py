"""Undo in the TUI reads at 80x24 and 160x48 (issue 18): every step's verdict is on screen, and a
probe that cannot read the target says what is wrong and how to fix it (not "drift").

The incident here happened twelve hours before the TUI's snapshot clock (2026-11-24T00:00Z), so
the refund is still inside its 24 h window: a compensable step whose precondition probe
(payments.get_refund) reads the target. The test ledger has no CRM tables, which is exactly a
session started without a target DSN."""

from __future__ import annotations

import socket
from typing import Any

import psycopg
import pytest
from textual.widgets import DataTable

from ledger import ids
from ledger.config import Settings
from ledger.scenarios import incident_events
from tests.ledgerkit import append
from tests.tui.conftest import settle
from tests.tui.pilotkit import play, text_of

MISSING = (
    "no undo target database: probe payments.get_refund ran against the ledger's own "
    "database, which lacks the system's tables (UndefinedTable: "
)
SMTP_FIX = "set LEDGER_UNDO_SMTP=HOST:PORT (or pass --smtp to ledger undo) and relaunch"
FIX = "; set LEDGER_UNDO_TARGET_DSN (or pass --target-dsn to ledger undo) and relaunch"


@pytest.fixture
def fresh(ledger_settings: Settings, ledger_conn: psycopg.Connection) -> str:
    """An incident twelve hours before the snapshot clock: its refund window is still open."""
    events = incident_events(name="fresh", t0_ns=ids.parse_timestamp("2026-11-23T12:00:00Z"))
    append(ledger_conn, ledger_settings, events)
    return str(events[0].run_id)


def screen_text(pilot: Any) -> str:
    """What the terminal shows now, line by line (the composed screen, not widget state)."""
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def open_undo(pilot: Any, run_id: str, key: str) -> None:
    from tui.screens.tsu import TraceStopUndoScreen

    await pilot.app.push_screen(TraceStopUndoScreen(run_id))
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_every_step_verdict_is_on_screen(fresh: str, make_app: Any, size: tuple[int, int]) -> None:
    async def scenario(pilot: Any) -> None:
        await open_undo(pilot, fresh, "y")
        table = pilot.app.screen.query_one("#undo-steps", DataTable)
        rows = [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])) for i in (0, 1)]
        assert rows == [("probe error", "s0001"), ("unreachable", "s0000")], rows  # refund first
        lines = screen_text(pilot).splitlines()
        for verdict, step in rows:  # each row starts with its whole verdict, on screen
            row = next(ln for ln in lines if step in ln and "│" not in ln[:2])
            assert row.strip().startswith(verdict), row
        shown = " ".join(screen_text(pilot).split())  # the detail pane, wrapped to the width
        assert "verdict probe error: no undo target database" in shown, shown
        assert text_of(pilot, "#undo-detail").startswith("s0001 payments.refund · compensable")
        detail = text_of(pilot, "#undo-detail").splitlines()  # the missing target, and its fix
        verdict = next(ln for ln in detail if ln.startswith("verdict"))
        assert verdict.startswith("verdict   probe error: " + MISSING), verdict
        assert verdict.endswith(FIX) and "drift" not in verdict, verdict
        assert "checks    payments.get_refund=error" in detail
        await pilot.press("down")  # the detail pane follows the highlighted step
        await settle(pilot)
        assert text_of(pilot, "#undo-detail").startswith(  # no relay: said before APPLY (#4)
            "s0000 email.send · irreversible\nverdict   unreachable: mail relay not configured "
            "(tried the default 127.0.0.1:25: "
        )
        assert SMTP_FIX in text_of(pilot, "#undo-detail")

    play(make_app(), scenario, size)


def test_connection_refused_names_host_and_port(
    fresh: str, make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("LEDGER_UNDO_TARGET_DSN", f"postgresql://undo@127.0.0.1:{port}/crm")

    async def scenario(pilot: Any) -> None:
        await open_undo(pilot, fresh, "P")
        assert text_of(pilot, "#undo-note") == (
            f"undo plan failed: undo target database unreachable at 127.0.0.1:{port}: "
            "connection refused; start it, or set LEDGER_UNDO_TARGET_DSN (or pass --target-dsn "
            "to ledger undo) and relaunch to point at the system being repaired"
        )

    play(make_app(), scenario)
