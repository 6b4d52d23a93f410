"""The TUI side of the kill switch (issue 16), driven with Pilot against a real ledger: the Stop
panel stops a scope through ledger.stops (the `ledger_stops` row the agents' caches read, and
the event naming the target), Resume lifts it, the board shows stopped runs and the stops in
force, and a registry refusal records nothing. One test stops a live agent running in another
process (tests/liveagent.py) from the panel."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable

import ledger
import ledger.hooks as hooks
from ledger import ids
from ledger.config import Settings
from ledger.events import encode_event, leaf_hash, make_event
from ledger.stops import request_stop
from ledger.store.sequencer import try_sequence
from tests.hooks.conftest import stored
from tests.ledgerkit import append
from tests.liveagent import Started, busy_agents, halted
from tests.registrykit import Authority
from tests.tui.conftest import settle
from tests.tui.pilotkit import events_of_type, play, text_of, type_text

HOSTILE = "ev[red]il[/red]\x1b[2J"


def _run(name: str, *, stopped_by: dict[str, Any] | None = None) -> list[Any]:
    """A run of agent `ops-agent` v2.0: still running, or ended `stopped` by `stopped_by`."""
    run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"default/{name}")
    steps: list[tuple[str, dict[str, Any]]] = [("run.started", {"task": "refunds"})]
    if stopped_by is not None:
        steps.append(("run.ended", {"status": "stopped", "event_count": 2,
                                    "stopped_by": stopped_by}))  # fmt: skip
    out, prev = [], None
    for i, (kind, data) in enumerate(steps):
        body = {**data, "last_hash": prev} if kind == "run.ended" else data
        event = make_event(
            kind, run_id=run_id, run_seq=i, prev_run_hash=prev, data=body,
            event_id=uuid.uuid5(run_id, str(i)),
            occurred_at=ids.format_timestamp((1_795_000_200 + i) * 1_000_000_000),
            principal={"initiating_user": "bob@example.com", "roles": ["sre"]},
            agent={"name": "ops-agent", "version": "2.0"}, tenant="default",
        )  # fmt: skip
        prev = leaf_hash(encode_event(event)).hex()
        out.append(event)
    return out


def _stops(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT target, target_run_id, requested_by, lifted_by FROM ledger_stops ORDER BY stop_seq"
    ).fetchall()


async def _open_stop(pilot: Any, scope: int) -> None:
    """Board -> first run's Stop tab, then choose the scope-th scope (0: this run)."""
    await pilot.press("s")
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    await pilot.click(f"#scope-{scope}")
    await pilot.click("#stop-reason")


async def _confirm(pilot: Any, reason: str, word: str) -> None:
    await type_text(pilot, reason)
    await pilot.press("enter")
    await type_text(pilot, word)
    await pilot.press("enter")
    await settle(pilot)


def _notes(pilot: Any) -> list[str]:
    return [str(n.message) for n in pilot.app._notifications]


def test_stop_and_resume_an_agent_version_scope_from_the_panel(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any
) -> None:
    live = _run("live")
    append(ledger_conn, ledger_settings, live)
    run_id = str(live[0].run_id)

    async def stop(pilot: Any) -> None:
        await _open_stop(pilot, 1)  # this run, agent ops-agent@2.0, agent ops-agent, tenant
        await _confirm(pilot, "refund storm", "STOP")
        assert "run.stop.requested recorded in the ledger (asserted): agent:ops-agent@2.0" in (
            _notes(pilot)
        )  # a live run: nothing says "nothing to halt"
        assert "■ STOP agent:ops-agent@2.0 by tester (asserted): refund storm" in text_of(
            pilot, "#stop-active"
        )
        await pilot.press("escape", "r")  # snapshot mode has no LISTEN loop: reload by hand
        await settle(pilot)
        assert "■ STOP agent:ops-agent@2.0 by tester (asserted): refund storm" in text_of(
            pilot, "#stops-banner"
        )

    play(make_app(), stop)
    assert _stops(ledger_conn) == [("agent:ops-agent@2.0", None, "tester", None)]
    [event] = events_of_type(ledger_conn, "run.stop.requested")
    assert event["data"]["target"] == "agent:ops-agent@2.0" and event["tenant"] == "default"
    assert event["source"]["integration"] == "tui"

    async def resume(pilot: Any) -> None:
        await _open_stop(pilot, 1)
        await _confirm(pilot, "fixed", "RESUME")
        assert "run.stop.lifted recorded in the ledger (asserted): agent:ops-agent@2.0" in (
            _notes(pilot)
        )
        assert text_of(pilot, "#stop-active") == ""
        await pilot.press("escape", "r")
        await settle(pilot)
        assert pilot.app.screen.query_one("#stops-banner").has_class("hidden")

    play(make_app(), resume)
    assert _stops(ledger_conn) == [("agent:ops-agent@2.0", None, "tester", "tester")]
    [lifted] = events_of_type(ledger_conn, "run.stop.lifted")
    assert lifted["data"]["lifts"] == [event["event_id"]]
    assert run_id not in str(lifted["data"])  # a scope lift, not a run's


def test_board_and_trace_show_a_stopped_run_and_the_stops_in_force(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any
) -> None:
    ref = {"target": "agent:ops-agent", "requested_by": HOSTILE, "reason": "refund storm",
           "authority": "asserted"}  # fmt: skip
    events = _run("halted", stopped_by=ref)
    append(ledger_conn, ledger_settings, events)
    halted = str(events[0].run_id)
    request_stop(ledger_conn, ledger_settings, target="tool:payments.*", reason=HOSTILE,
                 requested_by="dana")  # fmt: skip

    async def scenario(pilot: Any) -> None:
        runs = pilot.app.screen.query_one("#runs", DataTable)
        cell = runs.get_cell_at(Coordinate(0, runs.get_column_index("status")))
        assert str(cell) == "stopped" and "magenta" in str(cell.style)
        banner = text_of(pilot, "#stops-banner")  # the hostile reason is shown, not obeyed
        assert banner == "■ STOP tool:payments.* by dana (asserted): ev[red]il[/red]\\x1b[2J"
        await pilot.press("s")
        await settle(pilot)
        trace = text_of(pilot, "#trace-body")
        # the run.ended's stopped_by names no recorded stop: the agent's claim, not shown as fact
        assert "stopped: claimed by the agent; no such stop recorded" in trace
        assert "stopped by ev[red]il" not in trace

    play(make_app(), scenario)

    async def timeline(pilot: Any) -> None:  # `ledger tui --run RUN_ID` opens this
        assert text_of(pilot, "#tl-title") == (
            f"Timeline run {halted} │ 2 events │ stopped: claimed by the agent; no such stop "
            "recorded │ ■ STOP agent:ops-agent by dana (asserted): again"
        )

    request_stop(ledger_conn, ledger_settings, target="agent:ops-agent", reason="again",
                 requested_by="dana")  # fmt: skip
    play(make_app(run_id=halted), timeline)


def test_stop_this_run_signed_then_resume_without_a_grant_is_refused(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any,
    authority: Authority,
) -> None:  # fmt: skip
    live = _run("live")
    append(ledger_conn, ledger_settings, live)
    run_id = live[0].run_id
    authority.publish(
        principals=[authority.person("ivan", "sre")],
        stop=[{"roles": ["sre"], "scopes": ["tenant:default"]}],
    )

    async def stop_then_resume(pilot: Any) -> None:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await _confirm(pilot, "incident", "STOP")  # the default scope: this run
        assert f"run.stop.requested recorded in the ledger (registry): run:{run_id}" in (
            _notes(pilot)
        )
        await pilot.click("#stop-confirm")
        await pilot.press("end")
        for _ in range(4):
            await pilot.press("backspace")
        await type_text(pilot, "RESUME")
        await pilot.press("enter")
        await settle(pilot)
        refused = [n for n in _notes(pilot) if n.startswith("resume refused:")]
        assert refused == [
            f"resume refused: ivan may not resume run:{run_id}: no resume grant in registry "
            "acme v1"
        ], _notes(pilot)

    play(make_app(user="ivan", trust_root=authority.root), stop_then_resume)
    assert _stops(ledger_conn) == [(f"run:{run_id}", run_id, "ivan", None)]
    assert events_of_type(ledger_conn, "run.stop.lifted") == []


def test_the_stops_that_apply_to_a_run() -> None:
    """Run, agent, agent@version, tenant and tool-glob stops of the run's own log apply; another
    agent, another version, a tool it never called, or another tenant's log do not."""
    from datetime import UTC, datetime

    from ledger.store.stops import StopRow
    from tui.stopview import applying

    run = str(uuid.uuid4())
    docs = [
        {"type": "run.started", "tenant": "t1", "agent": {"name": "a", "version": "1"}},
        {"type": "tool.call.started", "data": {"tool": "payments.refund"}},
    ]

    def stop(target: str, origin: str = "log/t1") -> StopRow:
        return StopRow(1, origin, target, None, uuid.uuid4(), "x", "r", "asserted",
                       datetime.now(UTC), False)  # fmt: skip

    stops = [stop(t) for t in (f"run:{run}", "agent:a", "agent:a@1", "agent:a@2", "agent:b",
                               "tenant:t1", "tool:payments.*", "tool:email.*")]  # fmt: skip
    stops.append(stop("tenant:t1", origin="log/t2"))
    assert [(s.target, s.origin) for s in applying(stops, run, docs, "log/t1")] == [
        (f"run:{run}", "log/t1"), ("agent:a", "log/t1"), ("agent:a@1", "log/t1"),
        ("tenant:t1", "log/t1"), ("tool:payments.*", "log/t1"),
    ]  # fmt: skip


@pytest.fixture
def agent(ledger_settings: Settings, tmp_path: Path) -> Iterator[Callable[[str], Started]]:
    yield from busy_agents(ledger_settings, tmp_path)


def test_the_panel_stops_a_live_agent_in_another_process_then_resume_lets_it_run(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, make_app: Any, agent: Any
) -> None:
    """A busy agent (its own process) halts before its next tool body when the Stop panel
    stops `agent:looper@1.0`; after Resume from the same panel, a new run of that agent runs."""
    proc, run_id, marks = agent("1.0")
    try_sequence(ledger_conn, ledger_settings)  # the live run on the board (`ledger serve`)

    async def stop_then_resume(pilot: Any) -> None:
        await _open_stop(pilot, 1)  # this run, agent looper@1.0, ...
        await _confirm(pilot, "refund storm", "STOP")
        stopped_at = time.time()
        assert "run.stop.requested recorded in the ledger (asserted): agent:looper@1.0" in (
            _notes(pilot)
        )
        await asyncio.to_thread(halted, proc, marks, stopped_at, ledger_conn, ledger_settings,
                                run_id, "agent:looper@1.0", requested_by="tester")
        await pilot.click("#stop-confirm")
        await pilot.press("end", *["backspace"] * 4)
        await type_text(pilot, "RESUME")
        await pilot.press("enter")
        await settle(pilot)
        assert "run.stop.lifted recorded in the ledger (asserted): agent:looper@1.0" in (
            _notes(pilot)
        )

    play(make_app(), stop_then_resume)
    assert _stops(ledger_conn) == [("agent:looper@1.0", None, "tester", "tester")]
    ran: list[int] = []

    @ledger.tool(name="refund")
    def refund(i: int) -> int:
        ran.append(i)
        return i

    hooks.configure(ledger_settings)  # a new agent process would start the same way
    try:
        with ledger.run(agent="looper", agent_version="1.0") as again:
            assert refund(1) == 1
        hooks.flush()
    finally:
        hooks.shutdown()
    assert ran == [1]
    try_sequence(ledger_conn, ledger_settings)
    assert stored(ledger_conn, again.run_id)[-1].data.status == "succeeded"
