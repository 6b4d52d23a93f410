"""Forms keep their keys (issue 18): every printable character typed into a form field lands in
it, exactly, and fires no binding of the screen or the app (`P` once made an undo plan, `q`
quits, `?` opens help); Tab / Shift+Tab stay inside the form; Enter submits only what is valid;
Escape cancels. Covers the Stop form and the prompts (approve as, typed APPLY)."""

from __future__ import annotations

import string
from typing import Any

import psycopg
from textual.widgets import Input, TabbedContent

from tests.tui.conftest import settle
from tests.tui.pilotkit import events_of_type, play
from tests.tui.test_undo_layout import fresh, open_undo

__all__ = ["fresh"]

# every printable ASCII character but the newline family; starts with the screen's bindings
BOUND = "PVRsqy?AXer123"  # keys the board, Trace / Stop / Undo or the app bind
TYPED = BOUND + "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")


async def burst(pilot: Any, text: str) -> None:
    """Key events for `text` queued at once, as a fast typist's reach the app (the pilot's
    press waits for idle after each key, which would hide a key handled before focus moved)."""
    from textual import events
    from textual.keys import _character_to_key

    for c in text:
        key = "space" if c == " " else c if c.isalnum() else _character_to_key(c)
        event = events.Key(key, c)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)
    await settle(pilot)


async def type_all(pilot: Any) -> None:
    await burst(pilot, TYPED)


def focused_id(pilot: Any) -> str | None:
    focused = pilot.app.screen.focused
    return None if focused is None else focused.id


def assert_nothing_fired(pilot: Any, ledger_conn: psycopg.Connection) -> None:
    """Still on Trace / Stop / Undo, Stop tab, no plan made, no help, nothing recorded."""
    from tui.screens.tsu import TraceStopUndoScreen

    screen = pilot.app.screen
    assert isinstance(screen, TraceStopUndoScreen) and pilot.app.is_running
    assert screen.query_one("#tsu-tabs", TabbedContent).active == "stop"
    assert screen.plan is None and len(pilot.app.screen_stack) == 3  # default, board, this
    assert events_of_type(ledger_conn, "run.stop.requested") == []


def test_stop_form_keeps_every_key(
    ledger_conn: psycopg.Connection, fresh: str, make_app: Any
) -> None:
    async def scenario(pilot: Any) -> None:
        from tui.screens.tsu import TraceStopUndoScreen

        await pilot.app.push_screen(TraceStopUndoScreen(fresh))
        await settle(pilot)
        await burst(pilot, "2" + TYPED)  # the tab key and the reason at once: nothing lost
        await settle(pilot)
        screen = pilot.app.screen
        assert screen.query_one("#stop-reason", Input).value == TYPED
        assert_nothing_fired(pilot, ledger_conn)
        await pilot.press("tab")
        assert focused_id(pilot) == "stop-confirm"
        await type_all(pilot)
        await pilot.press("enter")  # not STOP: nothing submitted
        await settle(pilot)
        assert screen.query_one("#stop-confirm", Input).value == TYPED
        assert_nothing_fired(pilot, ledger_conn)
        order = []
        for _ in range(5):  # Tab cycles inside the form: buttons, the scope, back to the fields
            await pilot.press("tab")
            order.append(focused_id(pilot))
            if not isinstance(pilot.app.screen.focused, Input):  # a button, the scope list:
                # swallowed, never a binding (but the tab keys 1-3 switch tabs from here:
                # INCIDENT18 #3, tests/tui/test_tsu_fixes.py)
                await burst(pilot, BOUND.replace("123", ""))
                await settle(pilot)
            assert_nothing_fired(pilot, ledger_conn)
        fields = ["stop-button", "resume-button", "stop-scope", "stop-reason", "stop-confirm"]
        assert order == fields
        await pilot.press("shift+tab", "shift+tab")
        assert focused_id(pilot) == "stop-scope"
        await pilot.press("shift+tab")
        assert focused_id(pilot) == "resume-button"
        await pilot.press("escape")  # cancels the form: the confirmation goes, the screen stays
        await settle(pilot)
        assert focused_id(pilot) is None
        assert screen.query_one("#stop-confirm", Input).value == ""
        assert screen.query_one("#stop-reason", Input).value == TYPED
        assert_nothing_fired(pilot, ledger_conn)

    play(make_app(), scenario)


def test_prompts_keep_every_key_and_submit_only_what_is_valid(
    ledger_conn: psycopg.Connection, fresh: str, make_app: Any
) -> None:
    async def scenario(pilot: Any) -> None:
        from tui.screens.common import PromptScreen

        await open_undo(pilot, fresh, "P")
        plan = pilot.app.screen.plan
        assert plan is not None
        for key in ("X", "A"):  # A offers "tester", selected: typing replaces it
            await burst(pilot, key + TYPED)  # the key and the text at once: nothing lost
            if key == "X":  # no trust root: apply is certainly refused, said before APPLY
                await settle(pilot)  # (INCIDENT18 #8); every key still went into the prompt
                assert str(pilot.app.screen.query_one("#prompt-error").render()) == (
                    "apply refused: cannot apply undo: no trust root given (set "
                    "LEDGER_TRUST_ROOT or --trust-root) (escape closes)"
                )
            prompt = pilot.app.screen
            assert isinstance(prompt, PromptScreen)
            assert prompt.query_one("#prompt-input", Input).value == TYPED
            await pilot.press("tab", "shift+tab")  # one field: focus stays in it
            assert focused_id(pilot) == "prompt-input"
            if key == "X":
                await pilot.press("enter")  # refused: nothing confirms, it stays open
                await settle(pilot)
                assert pilot.app.screen is prompt
                assert str(prompt.query_one("#prompt-error").render()).startswith(
                    "apply refused: "
                )
            await pilot.press("escape")
            await settle(pilot)
            assert pilot.app.screen is not prompt and pilot.app.screen.plan is plan
        assert len(pilot.app.screen_stack) == 3
        for kind in ("undo.plan.approved", "undo.step.started", "undo.step.ended"):
            assert events_of_type(ledger_conn, kind) == []

    play(make_app(), scenario)
