"""Pilot tests: every screen and workflow against a real PostgreSQL ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg
from textual.widgets import DataTable, Static

from ledger.config import Settings
from ledger.scenarios import incident_events
from tests.ledgerkit import append, chained_run
from tests.registrykit import Authority
from tests.tui.conftest import SIZE, settle
from tui.widgets.event_log import EventLog

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


def test_board_lists_runs_and_filters(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        runs = pilot.app.screen.query_one("#runs", DataTable)
        assert runs.row_count == 2
        assert "2 runs" not in text_of(pilot, "#chain-status")
        assert "default: 15 events" in text_of(pilot, "#chain-status")
        await pilot.press("slash")
        await type_text(pilot, "agent:support")
        await pilot.press("enter")
        await settle(pilot)
        assert runs.row_count == 1
        assert str(runs.get_row_at(0)[2]) == "support-agent"
        await pilot.press("escape")
        await settle(pilot)
        assert runs.row_count == 2
        await pilot.press("V")
        await settle(pilot)
        assert "verified ✓ to 15" in text_of(pilot, "#chain-status")

    play(make_app(), scenario)


def test_board_shows_open_approvals(
    ledger_settings: Settings,
    ledger_conn: psycopg.Connection,
    seeded: dict[str, str],
    make_app: Any,
) -> None:
    from ledger.events import args_hash, encode_event, leaf_hash, make_event

    run = chained_run(n_tools=0)
    started = run[0]
    req = make_event(
        "approval.requested",
        run_id=started.run_id,
        run_seq=1,
        prev_run_hash=leaf_hash(encode_event(started)).hex(),
        data={
            "approval_id": "ap1",
            "tool_call_id": "t9",
            "tool": "payments.refund",
            "args_hash": args_hash({}),
            "required_roles": ["finance-oncall"],
            "reason": "refund over 500",
        },
    )
    append(ledger_conn, ledger_settings, [started, req])

    async def scenario(pilot: Any) -> None:
        approvals = pilot.app.screen.query_one("#approvals", DataTable)
        assert approvals.row_count == 1
        assert [str(c) for c in approvals.get_row_at(0)][1:4] == [
            "ap1",
            "payments.refund",
            "finance-oncall",
        ]

    play(make_app(), scenario)


def test_live_update_from_sequencer(
    ledger_settings: Settings,
    ledger_conn: psycopg.Connection,
    seeded: dict[str, str],
    make_app: Any,
) -> None:
    async def scenario(pilot: Any) -> None:
        runs = pilot.app.screen.query_one("#runs", DataTable)
        assert runs.row_count == 2
        append(ledger_conn, ledger_settings, chained_run(n_tools=1))
        for _ in range(100):  # the LISTEN thread delivers the notification; no sleeps
            await settle(pilot)
            if runs.row_count == 3:
                break
        assert runs.row_count == 3

    play(make_app(listen=True, snapshot=False), scenario)


def test_timeline_inspector_pivot_and_jump(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "enter")
        await settle(pilot)
        log = pilot.app.screen.query_one(EventLog)
        assert log.count == 12
        await pilot.press("down", "down", "down", "down")
        await settle(pilot)
        row = log.row(log.cursor)
        assert row is not None and row.type == "tool.call.started" and row.tool == "email.send"
        inspector = text_of(pilot, "#inspector-body")
        assert "recomputed ✓" in inspector
        assert "ok: prev_run_hash = leaf of run_seq 3" in inspector
        assert "included in checkpoint size 15" in inspector
        await pilot.press("t")  # pivot by tool
        await settle(pilot)
        assert log.count == 2
        assert {log.row(i).tool for i in range(2)} == {"email.send"}
        await pilot.press("escape")
        await settle(pilot)
        assert log.count == 12
        await pilot.press("slash")
        await type_text(pilot, "!guardrail")
        await pilot.press("enter")
        await settle(pilot)
        assert log.count == 10
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("g")
        await type_text(pilot, "2026-11-18T11:06:50Z")
        await pilot.press("enter")
        await settle(pilot)
        assert log.cursor == 7
        await pilot.press("end")
        await settle(pilot)
        assert log.cursor == 11

    play(make_app(), scenario)


def test_whole_log_and_merged_runs(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("l")
        await settle(pilot)
        log = pilot.app.screen.query_one(EventLog)
        assert log.count == 15
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("space", "down", "space", "M")
        await settle(pilot)
        log = pilot.app.screen.query_one(EventLog)
        assert log.count == 15
        assert "2 run(s)" in text_of(pilot, "#tl-title")

    play(make_app(), scenario)


def test_annotations_are_ledger_events(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any
) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "enter")
        await settle(pilot)
        await pilot.press("down", "b")
        await settle(pilot)
        await pilot.press("n")
        await type_text(pilot, "injected here")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("number_sign")
        await type_text(pilot, "ioc phishing")
        await pilot.press("enter")
        await settle(pilot)

    play(make_app(), scenario)
    notes = events_of_type(ledger_conn, "annotation")
    assert [n["data"]["kind"] for n in notes] == ["bookmark", "note", "tag"]
    assert notes[1]["data"]["text"] == "injected here"
    assert notes[2]["data"]["tags"] == ["ioc", "phishing"]
    target = str(incident_events()[1].event_id)
    assert all(n["data"]["target_event_id"] == target for n in notes)
    assert notes[0]["correlation"]["caused_by"] == target


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
        who = text_of(pilot, "#stop-who")
        assert "bob@example.com (sre)" in who
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
    assert stops[0]["data"] == {  # no trust root in this session: recorded, but asserted
        "requested_by": "tester",
        "reason": "injected email",
        "authority": "asserted",
        "authority_reason": "no trust root given (set LEDGER_TRUST_ROOT or --trust-root)",
    }


def test_stop_not_granted_by_the_registry_is_refused_and_not_recorded(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any, authority: Authority
) -> None:
    authority.publish(
        principals=[authority.person("ivan", "sre", key=False)],
        stop=[{"roles": ["sre"], "scopes": ["tenant:default"]}],
    )

    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "s")
        await settle(pilot)
        await pilot.press("2")
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


async def scenario_granted(pilot: Any) -> None:
    await pilot.press("down", "s")
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    await type_text(pilot, "injected email")
    await pilot.press("enter")
    await type_text(pilot, "STOP")
    await pilot.press("enter")
    await settle(pilot)
    assert "run.stop.requested recorded in the ledger (registry)" in _notes(pilot)


def test_undo_plan_dry_run(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        steps = pilot.app.screen.query_one("#undo-steps", DataTable)
        assert steps.row_count == 2
        tools = [str(steps.get_row_at(i)[1]) for i in range(2)]
        assert tools == ["email.send", "payments.refund"]
        assert "bob@example.com" in str(steps.get_row_at(0)[6])
        residue = text_of(pilot, "#undo-residue")
        assert "the original message was delivered" in residue
        assert "dry run" in text_of(pilot, "#undo-note")

    play(make_app(), scenario)


def test_readonly_hides_writes(
    ledger_conn: psycopg.Connection, seeded: dict[str, str], make_app: Any
) -> None:
    async def scenario(pilot: Any) -> None:
        assert "READ-ONLY" in text_of(pilot, "#chain-status")
        await pilot.press("e")  # export is hidden
        await settle(pilot)
        assert type(pilot.app.screen).__name__ == "BoardScreen"
        await pilot.press("down", "enter")
        await settle(pilot)
        await pilot.press("down", "b", "n")
        await settle(pilot)
        assert type(pilot.app.screen).__name__ == "TimelineScreen"
        footer_keys = {b.binding.action for b in pilot.app.screen.active_bindings.values()}
        assert "bookmark" not in footer_keys
        await pilot.press("S")
        await settle(pilot)
        assert not pilot.app.screen.query("#stop-button")

    play(make_app(readonly=True), scenario)
    assert events_of_type(ledger_conn, "annotation") == []


def test_replay_steps_and_help(seeded: dict[str, str], make_app: Any) -> None:
    async def scenario(pilot: Any) -> None:
        await pilot.press("down", "R")
        await settle(pilot)
        assert "step 12/12" in text_of(pilot, "#replay-state")
        await pilot.press("comma", "comma")
        assert "step 10/12" in text_of(pilot, "#replay-state")
        await pilot.press("home")
        assert "step 1/12" in text_of(pilot, "#replay-state")
        await pilot.press("p")
        assert "no policy.published" in text_of(pilot, "#replay-verdicts")
        await pilot.press("question_mark")
        await settle(pilot)
        assert type(pilot.app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("ctrl+t")
        assert pilot.app.theme == "textual-light"

    play(make_app(), scenario)


def test_replay_reevaluates_against_published_policy(
    ledger_settings: Settings,
    ledger_conn: psycopg.Connection,
    seeded: dict[str, str],
    make_app: Any,
) -> None:
    from pathlib import Path

    from replay.policy.loader import load_pack
    from replay.policy.published import publish_policy

    pack = Path(__file__).resolve().parents[1] / "replay" / "guardrails-basic.yaml"
    publish_policy(ledger_conn, ledger_settings, load_pack(pack))

    async def scenario(pilot: Any) -> None:
        await pilot.press("down")
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("p", "c")
        await settle(pilot)
        verdicts = text_of(pilot, "#replay-verdicts")
        assert "as of step 12" in verdicts
        assert "PASS" in verdicts or "FAIL" in verdicts or "UNKNOWN" in verdicts

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


def _notes(pilot: Any) -> list[str]:
    return [str(n.message) for n in pilot.app._notifications]


async def _open_undo(pilot: Any) -> None:
    await pilot.press("down", "s")
    await settle(pilot)
    await pilot.press("P")
    await settle(pilot)


async def _apply(pilot: Any) -> str:
    await pilot.press("X")
    await type_text(pilot, "APPLY")
    await pilot.press("enter")
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
            await pa.press("A")
            await settle(pa)
            assert "approved plan" in text_of(pa, "#undo-note")
            note = await _apply(pa)
            assert note.startswith("apply refused: four eyes: ivan is the only approver"), note
            assert "\n" not in note and note in _notes(pa)
            assert events_of_type(ledger_conn, "undo.step.ended") == []
            await _open_undo(pb)  # the second terminal: the same run, the same plan digest
            assert "approved by ivan (pending apply)" in text_of(pb, "#undo-note")
            assert pb.app.screen.plan.digest == pa.app.screen.plan.digest
            await pb.press("A")
            await settle(pb)
            assert "approved plan" in text_of(pb, "#undo-note")
            note = await _apply(pa)
            # no SMTP server in tests: the correction mail fails after its bounded retries, and
            # the expired refund window leaves that step to an operator; both are recorded
            assert note.startswith("apply failed"), note
            assert "s0000 compensation_failed attempts=3" in note
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
        await pilot.press("A")
        await settle(pilot)
        note = text_of(pilot, "#undo-note")
        assert note.startswith("approve refused: separation of duties: alice@example.com"), note
        assert note in _notes(pilot)

    async def no_root(pilot: Any) -> None:
        await _open_undo(pilot)
        await pilot.press("A")
        await settle(pilot)
        note = text_of(pilot, "#undo-note")
        assert note.startswith("approve refused: cannot approve undo: no trust root given"), note

    play(make_app(user="alice@example.com", trust_root=authority.root), self_approval)
    play(make_app(user="carol"), no_root)
    assert events_of_type(ledger_conn, "undo.plan.approved") == []
