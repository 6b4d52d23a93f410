"""Pilot tests: every screen and workflow against a real PostgreSQL ledger."""

from __future__ import annotations

from typing import Any

import psycopg
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from ledger.config import Settings
from ledger.scenarios import incident_events
from tests.ledgerkit import append, chained_run
from tests.tui.conftest import settle
from tests.tui.pilotkit import events_of_type, play, text_of, type_text
from tui.widgets.event_log import EventLog


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
        agent = runs.get_cell_at(Coordinate(0, runs.get_column_index("agent")))
        assert str(agent) == "support-agent"
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
