"""Approve as someone else, then apply, fail, and retry, all in one TUI session (issue 18).

ivan runs the console; carol, standing next to him, approves as herself from the approval
prompt (no relaunch; her registered key signs, and the authority rules judge it as `ledger undo
approve --as carol` would). The correction mail fails the first apply (the mail relay is
down), and the refund step says its probe could not read the target, not "drift". The retry
re-runs only the failed mail step, which then goes out once."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.registrykit import Authority
from tests.tui.conftest import settle
from tests.tui.pilotkit import events_of_type, play, text_of, type_text
from tests.tui.test_stop_undo import _apply, _tui_registry
from tests.tui.test_undo_layout import closed_port, fresh, open_undo
from tests.undo.conftest import Smtp, smtp

__all__ = ["fresh", "smtp"]  # fixtures used here


async def approve_as(pilot: Any, who: str) -> None:
    await pilot.press("A")
    await settle(pilot)
    field = pilot.app.screen.query_one("#prompt-input")
    assert field.value == "ivan"  # the session's user, offered first
    await pilot.press("end", *["backspace"] * len(field.value))
    await type_text(pilot, who)
    await pilot.press("enter")
    await settle(pilot)


def test_approve_as_another_then_retry_a_failed_step(
    ledger_conn: psycopg.Connection,
    fresh: str,
    make_app: Any,
    authority: Authority,
    smtp: Smtp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tui_registry(authority)
    monkeypatch.setenv("LEDGER_UNDO_SMTP", f"127.0.0.1:{closed_port()}")

    async def scenario(pilot: Any) -> None:
        await open_undo(pilot, fresh, "P")
        await approve_as(pilot, "carol")
        assert text_of(pilot, "#undo-note").startswith("approved plan "), text_of(
            pilot, "#undo-note"
        )
        assert text_of(pilot, "#undo-note").endswith(" as carol (undo.plan.approved recorded)")
        lines = (await _apply(pilot)).splitlines()
        assert lines[0].startswith("apply failed: plan "), lines
        assert lines[2].startswith("  s0000 compensation_failed attempts=3 — "), lines
        assert lines[1].startswith(
            "  s0001 needs_operator attempts=0 — no undo target database: probe "
            "payments.get_refund ran against the ledger's own database"
        ), lines
        monkeypatch.setenv("LEDGER_UNDO_SMTP", f"{smtp.host}:{smtp.port}")  # the relay is back
        lines = (await _apply(pilot)).splitlines()
        assert lines[0].startswith("apply partial: plan "), lines
        assert lines[2] == "  s0000 compensated attempts=1", lines

    play(make_app(user="ivan", trust_root=authority.root), scenario)
    approved = events_of_type(ledger_conn, "undo.plan.approved")
    assert [e["data"]["approver"]["id"] for e in approved] == ["carol"]
    started = [e["data"]["step_id"] for e in events_of_type(ledger_conn, "undo.step.started")]
    assert started == ["s0000", "s0000"]  # the mail ran twice: failed, then retried
    assert len(smtp.sink.messages) == 1 and smtp.sink.messages[0]["Subject"].startswith(
        "Correction: "
    )
