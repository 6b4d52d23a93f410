"""INCIDENT18 fixes in Trace / Stop / Undo: tab keys leave the Stop pane whatever holds focus,
an ended run's stop defaults to its agent@version, and the stop form fits 80x24."""

from __future__ import annotations

from typing import Any

import psycopg
from textual.widgets import TabbedContent

from ledger.config import Settings
from tests.registrykit import Authority
from tests.tui.conftest import settle
from tests.tui.pilotkit import play, text_of


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


def test_eligible_approvers_are_the_registry_judgement(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    seeded: dict[str, str],
    make_app: Any,
    authority: Authority,
) -> None:
    """The Undo tab lists who `ledger undo approve` would accept (INCIDENT18 #2): ivan (undo
    grant on every tool); not dana (payments only), erin (no grant), frank (no approver key),
    alice (the run's own user: separation of duties), nor bob, whom the log shows as sre."""
    from replay.undo.parties import eligible_approvers

    authority.publish(
        principals=[
            authority.person("ivan", "sre"),
            authority.person("dana", "finance_lead"),
            authority.person("erin", "support"),
            authority.person("frank", "sre", key=False),
            authority.person("alice@example.com", "sre"),
        ],
        undo=[
            {"roles": ["finance_lead"], "scopes": ["tool:payments.*"]},
            {"roles": ["sre"], "scopes": ["*"]},
        ],
    )
    plans: list[Any] = []

    async def scenario(pilot: Any) -> None:
        await _open(pilot, seeded["incident"])
        await pilot.press("P")
        await settle(pilot)
        detail = text_of(pilot, "#undo-detail")
        assert "eligible  ivan (registry acme v1)" in detail, detail
        plans.append(pilot.app.screen.plan)

    play(make_app(trust_root=authority.root), scenario)
    judged = eligible_approvers(ledger_conn, ledger_settings, plans[0], authority.root)
    assert judged.people == (("ivan", ("sre",)),) and judged.judged
    unjudged = eligible_approvers(ledger_conn, ledger_settings, plans[0], None)
    assert (unjudged.people, unjudged.judged) == ((), False)
    assert unjudged.note.startswith("cannot judge approvers: no trust root given")


def test_an_ended_run_says_so_and_defaults_to_its_agent_version(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any
) -> None:
    """INCIDENT18 #7: before any confirmation the Stop pane says the run has ended, and the
    scope chosen is the agent@version (a stop of the ended run alone would halt nothing)."""
    async def scenario(pilot: Any) -> None:
        await _open(pilot, seeded["incident"])
        await pilot.press("2")
        await settle(pilot)
        note = "this run has ended ("
        tail = "): a stop of the run alone halts nothing; the scope is its agent@version"
        hint = text_of(pilot, "#stop-hint")
        assert hint.startswith(note) and tail in hint, hint
        assert tail in text_of(pilot, "#stop-who")
        screen = pilot.app.screen
        on = [str(b.label) for b in screen.query("#stop-scope RadioButton") if b.value]
        assert on == ["agent support-agent@1.4.0"], on
        assert screen.chosen_target() == "agent:support-agent@1.4.0"

    play(make_app(), scenario)


def test_stop_form_fits_80x24_without_scrolling(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any
) -> None:
    """INCIDENT18 #11: at 80x24 the fields and both buttons are in view without scrolling (Pilot
    runs without toasts: their corner is checked as the left half holding the fields)."""

    async def scenario(pilot: Any) -> None:
        await _open(pilot, seeded["incident"])
        await pilot.press("2")
        await settle(pilot)
        screen = pilot.app.screen
        form = screen.query_one("#stop-form")
        assert form.scroll_y == 0
        ids = ("#stop-scope", "#stop-reason", "#stop-confirm", "#stop-button", "#resume-button")
        for wid in ids:
            region = screen.query_one(wid).region
            assert form.region.contains_region(region), (wid, region, form.region)
        # toasts dock at the bottom right (Textual's ToastRack, max half the width): the
        # fields and buttons sit at the left, the informational text below them
        for wid in ids[1:]:
            assert screen.query_one(wid).region.x < 40, wid

    play(make_app(), scenario, (80, 24))
