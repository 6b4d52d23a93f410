"""Pilot tests of the TUI's writes that need authority: stops judged by the registry, undo plans,
and four-eyes undo approval from two terminals, against a real PostgreSQL ledger."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from textual.widgets import DataTable

from ledger.config import Settings
from tests.registrykit import Authority
from tests.tui.conftest import SIZE, settle
from tests.tui.pilotkit import events_of_type, play, text_of, type_text


def test_stop_is_recorded_with_typed_confirmation(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any
) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "s")
        await settle(pilot)
        trace = text_of(pilot, "#trace-body")
        assert "alice@example.com" in trace and "run chain intact" in trace
        await pilot.press("2")
        await settle(pilot)
        await _run_scope(pilot)  # the ended run: its own scope, not the default
        await settle(pilot)
        who = text_of(pilot, "#stop-who")
        assert "(asserted, no registry: no trust root given" in who  # not the log's roles
        assert "bob@example.com" not in who and "anyone with an operator connection" in who
        await type_text(pilot, "injected email")
        await pilot.press("enter")
        await type_text(pilot, "stop")  # wrong confirmation: nothing recorded
        await pilot.press("enter")
        await settle(pilot)
        assert events_of_type(ledger_conn, "run.stop.requested") == []
        for _ in range(4):
            await pilot.press("backspace")
        await type_text(pilot, "STOP")
        await pilot.press("enter")
        await settle(pilot)

    play(make_app(), scenario)
    stops = events_of_type(ledger_conn, "run.stop.requested")
    assert len(stops) == 1
    run_id = stops[0]["data"]["target_run_id"]
    assert stops[0]["data"] == {  # no trust root in this session: recorded, but asserted
        "requested_by": "tester",
        "reason": "injected email",
        "authority": "asserted",
        "authority_reason": "no trust root given (set LEDGER_TRUST_ROOT or --trust-root)",
        "target": f"run:{run_id}",  # issue 16: the stop names the run it stops
        "target_run_id": run_id,
    }


def test_stop_not_granted_by_the_registry_is_refused_and_not_recorded(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any, authority: Authority
) -> None:
    authority.publish(  # issue 16: a stop under a registry is signed with the approver key
        principals=[authority.person("ivan", "sre")],
        stop=[{"roles": ["sre"], "scopes": ["tenant:default"]}],
    )

    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "s")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await _run_scope(pilot)  # the ended run: its own scope, not the default
        await settle(pilot)
        await type_text(pilot, "injected email")
        await pilot.press("enter")
        await type_text(pilot, "STOP")
        await pilot.press("enter")
        await settle(pilot)
        refused = [n for n in _notes(pilot) if n.startswith("stop refused:")]
        assert len(refused) == 1 and "tester may not stop run:" in refused[0], _notes(pilot)

    play(make_app(trust_root=authority.root), scenario)
    assert events_of_type(ledger_conn, "run.stop.requested") == []
    play(make_app(user="ivan", trust_root=authority.root), scenario_granted)
    stops = events_of_type(ledger_conn, "run.stop.requested")
    assert [(s["data"]["authority"], s["data"]["authorised"]) for s in stops] == [
        ("registry", True)
    ]
    assert stops[0]["data"]["signature"] and stops[0]["data"]["signing_key"]  # signed by ivan


async def scenario_granted(pilot: Any) -> None:
    await pilot.press("down", "s")
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    await _run_scope(pilot)  # the ended run: its own scope, not the default
    await settle(pilot)
    await type_text(pilot, "injected email")
    await pilot.press("enter")
    await type_text(pilot, "STOP")
    await pilot.press("enter")
    await settle(pilot)
    done = [n for n in _notes(pilot) if n.startswith("run.stop.requested recorded")]
    assert len(done) == 1, _notes(pilot)  # the incident run ended long ago: the service says so
    assert done[0].startswith("run.stop.requested recorded in the ledger (registry): run:")
    assert done[0].endswith(" ago: nothing to halt") and " · already ended " in done[0]


def test_undo_plan_dry_run(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        steps = pilot.app.screen.query_one("#undo-steps", DataTable)
        assert steps.row_count == 2
        tools = [str(steps.get_row_at(i)[2]) for i in range(2)]  # the verdict comes first
        assert tools == ["email.send", "payments.refund"]
        detail = text_of(pilot, "#undo-detail")  # the highlighted step; no trust root here:
        assert "eligible  asserted (no registry): " in detail  # not everyone the log has seen
        assert "bob@example.com" not in detail  # (INCIDENT18 #2)
        residue = text_of(pilot, "#undo-residue")
        assert "the original message was delivered" in residue
        assert "dry run" in text_of(pilot, "#undo-note")

    play(make_app(), scenario)


def _tui_registry(auth: Authority) -> str:
    """ivan (sre) and carol (finance-oncall) may approve any undo; alice@example.com, the
    incident's original user, is registered too (with a key and a grant): only SoD refuses her."""
    return auth.publish(
        principals=[
            auth.person("ivan", "sre"),
            auth.person("carol", "finance-oncall"),
            auth.person("alice@example.com", "support"),
        ],
        undo=[{"principals": ["ivan", "carol", "alice@example.com"], "scopes": ["tool:*"]}],
    )


async def _run_scope(pilot: Any) -> None:
    """Choose "this run" (an ended run defaults to its agent@version: INCIDENT18 #7)."""
    pilot.app.screen.query_one("#scope-0").value = True
    await settle(pilot)


def _notes(pilot: Any) -> list[str]:
    return [str(n.message) for n in pilot.app._notifications]


async def _open_undo(pilot: Any) -> None:
    await pilot.press("down", "s")
    await settle(pilot)
    await pilot.press("P")
    await settle(pilot)


async def _approve(pilot: Any) -> None:
    """A, then enter: approve as the session's user (the prompt's default)."""
    await pilot.press("A")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def _apply(pilot: Any, refused_early: bool = False) -> str:
    """X, then APPLY typed; a prompt that refused before the typed APPLY (INCIDENT18 #8) stays
    open with the refusal, confirming nothing: escape closes it."""
    from tui.screens.common import PromptScreen

    await pilot.press("X")
    await settle(pilot)
    await type_text(pilot, "APPLY")
    await pilot.press("enter")
    await settle(pilot)
    prompt = pilot.app.screen
    assert isinstance(prompt, PromptScreen) == refused_early
    if isinstance(prompt, PromptScreen):
        assert (prompt.refused or "").startswith("apply refused: ")
        assert text_of(pilot, "#prompt-error") == f"{prompt.refused} (escape closes)"
        await pilot.press("escape")
        await settle(pilot)
    return text_of(pilot, "#undo-note")


def _digest_in_force(conn: psycopg.Connection, settings: Settings, auth: Authority) -> str:
    from ledger.authority.service import load_history

    digest = load_history(conn, settings.origin(), auth.root).latest().digest
    assert digest is not None
    return digest


def test_undo_four_eyes_across_two_terminals(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    seeded: dict[str, str],
    make_app: Any,
    authority: Authority,
) -> None:
    """Operator ivan plans and approves in his TUI; his own apply is refused (four eyes) with a
    one-line notification. carol, running `ledger tui --as carol` at the same time against the
    same database, sees ivan's approval of the same plan digest and approves it; ivan applies."""
    _tui_registry(authority)
    a = make_app(user="ivan", trust_root=authority.root)
    b = make_app(user="carol", trust_root=authority.root)

    async def main() -> None:
        async with a.run_test(size=SIZE) as pa, b.run_test(size=SIZE) as pb:
            await settle(pa)
            await settle(pb)
            await _open_undo(pa)
            await _approve(pa)
            assert "approved plan" in text_of(pa, "#undo-note")
            note = await _apply(pa, refused_early=True)  # said before the typed APPLY (#8)
            assert note.startswith("apply refused: four eyes: ivan is the only approver"), note
            assert "\n" not in note and note in _notes(pa)
            assert events_of_type(ledger_conn, "undo.step.ended") == []
            await _open_undo(pb)  # the second terminal: the same run, the same plan digest
            assert "approved by ivan (pending apply)" in text_of(pb, "#undo-note")
            assert pb.app.screen.plan.digest == pa.app.screen.plan.digest
            await _approve(pb)
            assert "approved plan" in text_of(pb, "#undo-note")
            note = await _apply(pa)
            # no SMTP server in tests: the correction mail fails after its bounded retries, and
            # the expired refund window leaves that step to an operator; both are recorded
            assert note.startswith("apply failed"), note
            assert "s0000 compensation_failed attempts=3" in note
            # INCIDENT18 #4: the failure names the relay it tried and how to configure it
            assert "mail relay not configured (tried the default 127.0.0.1:25: " in note, note
            assert "set LEDGER_UNDO_SMTP=HOST:PORT (or pass --smtp to ledger undo)" in note
            assert "s0001 needs_operator" in note

    asyncio.run(main())
    approved = events_of_type(ledger_conn, "undo.plan.approved")
    assert [e["data"]["approver"]["id"] for e in approved] == ["ivan", "carol"]
    assert {e["data"]["details"]["registry_hash"] for e in approved} == {
        _digest_in_force(ledger_conn, ledger_settings, authority)
    }
    assert {e["data"]["status"] for e in events_of_type(ledger_conn, "undo.step.ended")} >= {
        "compensation_failed"
    }


def test_undo_in_the_tui_refuses_original_actor_and_missing_trust_root(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any, authority: Authority
) -> None:
    """The run's own user may not approve its undo (SoD, from the ledger), and a TUI started
    without a trust root refuses to approve at all; each a one-line notification, nothing
    recorded."""
    _tui_registry(authority)

    async def self_approval(pilot: Any) -> None:
        await _open_undo(pilot)
        await _approve(pilot)
        note = text_of(pilot, "#undo-note")
        assert note.startswith("approve refused: separation of duties: alice@example.com"), note
        assert note in _notes(pilot)

    async def no_root(pilot: Any) -> None:
        await _open_undo(pilot)
        await _approve(pilot)
        note = text_of(pilot, "#undo-note")
        assert note.startswith("approve refused: cannot approve undo: no trust root given"), note

    play(make_app(user="alice@example.com", trust_root=authority.root), self_approval)
    play(make_app(user="carol"), no_root)
    assert events_of_type(ledger_conn, "undo.plan.approved") == []
