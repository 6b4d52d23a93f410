"""Hostile review r16a: stops an honest agent must not miss (real PostgreSQL, no mocks).

Each test records a real stop through the operator's door (ledger.stops, what `ledger stop`
uses) and asserts that the next decorated tool body does not run.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer

from .conftest import FlakyDatabase
from .test_live_stop import record_stop, wait_until


def test_a_run_that_outlives_configure_still_obeys_a_stop(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    """A library (or the app) calls configure() again while a run is live: the run keeps the
    old writer (writer.close() is documented as "not final"), and a stop of it must still halt
    its next tool body."""
    ran: list[int] = []

    @ledger.tool(name="refund")
    def refund(i: int) -> int:
        ran.append(i)
        return i

    hooks.configure(ledger_settings)
    try:
        with pytest.raises(ledger.RunStopped), ledger.run(agent="survivor"):
            refund(1)
            hooks.configure(ledger_settings)  # reconfigured mid-run
            record_stop(ledger_settings, "agent:survivor")  # sequenced + NOTIFY when it returns
            refund(2)  # the ack carries the new live version: must be refused
    finally:
        hooks.shutdown()
    assert ran == [1]


def test_a_second_tenant_whose_first_load_failed_still_sees_its_older_stops(
        ledger_settings: Settings, ledger_conn: psycopg.Connection,
        flaky: FlakyDatabase) -> None:
    """One process writes for two tenants. Tenant b's stop is older (lower live version) than
    tenant a's. The process loads a's stops (cache version = a's stop), then b's first load
    fails (a blip); once the database is back, b's stop must still be found."""
    ran: list[int] = []

    @ledger.tool(name="refund")
    def refund(i: int) -> int:
        ran.append(i)
        return i

    record_stop(ledger_settings, "agent:looper", tenant="b")   # version v
    record_stop(ledger_settings, "agent:other", tenant="a")    # version v + 1
    writer: Writer = hooks.configure(ledger_settings, connect=flaky, retry_interval=0.05)
    try:
        with ledger.run(agent="calm", tenant="a"):
            refund(0)
        live = writer.live
        assert live.version > 0
        flaky.go_down()
        run_b: Any = ledger.run(agent="looper", tenant="b")
        with pytest.raises(ledger.RunStopped), run_b:  # may start while down; the tool may not
            flaky.come_back()
            seen = live.refreshes
            wait_until(lambda: live.refreshes > seen, what="the listener back")
            refund(1)
    finally:
        hooks.shutdown()
    assert ran == [0]


def test_the_tui_agent_scope_stops_an_agent_whose_name_holds_an_at_sign(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    """Agent names are any text (AgentRef.name): `support@acme` is a fine name. The Stop panel
    offers "agent support@acme" (tui.stopview.scope_choices); choosing it must halt the agent,
    not silently aim at agent `support` version `acme`."""
    from tui.stopview import scope_choices

    ran: list[int] = []

    @ledger.tool(name="refund")
    def refund(i: int) -> int:
        ran.append(i)
        return i

    hooks.configure(ledger_settings)
    try:
        with pytest.raises(ledger.RunStopped), \
                ledger.run(agent="support@acme", agent_version="3") as run:
            refund(1)
            docs = [{"type": "run.started", "tenant": "default",
                     "agent": {"name": "support@acme", "version": "3"}}]
            choices = dict(scope_choices(str(run.run_id), docs))
            record_stop(ledger_settings, choices["agent support@acme"])
            refund(2)
    finally:
        hooks.shutdown()
    assert ran == [1]


@pytest.mark.parametrize("tool_name", ["wire[1]", "wire[!x]"])
def test_the_tui_tool_scope_stops_the_very_tool_it_names(
        ledger_settings: Settings, ledger_conn: psycopg.Connection, tool_name: str) -> None:
    """Tool names are the agent's text; `tool:` targets are globs. The Stop panel's "tool X"
    (opened on a call of tool X) must stop X itself: a hostile agent naming its tool `wire[1]`
    must not make the operator's stop aim at `wire1` instead."""
    from tui.stopview import scope_choices

    ran: list[int] = []

    @ledger.tool(name=tool_name)
    def wire(i: int) -> int:
        ran.append(i)
        return i

    hooks.configure(ledger_settings)
    try:
        with ledger.run(agent="payer") as run:
            wire(1)
            docs = [{"type": "run.started", "tenant": "default",
                     "agent": {"name": "payer", "version": None}}]
            choices = dict(scope_choices(str(run.run_id), docs, tool=tool_name))
            record_stop(ledger_settings, choices[f"tool {tool_name}"])
            with pytest.raises(ledger.RunStopped):
                wire(2)
    finally:
        hooks.shutdown()
    assert ran == [1]


def test_run_tool_started_without_wait_still_refuses_a_cached_stop(
        ledger_settings: Settings, ledger_conn: psycopg.Connection) -> None:
    """ISSUE16: the hooks honour stops "before a tool body runs (`@ledger.tool`,
    `run.tool_started`)". A manual integration calls `run.tool_started(...)` (wait defaults to
    False) and then runs the body: with the stop already in the process's cache, the call must
    raise RunStopped (no round trip needed), not return a ToolCall."""
    writer = hooks.configure(ledger_settings)
    try:
        with pytest.raises(ledger.RunStopped), ledger.run(agent="manual") as run:
            run.tool_started("refund", {"i": 1})
            record_stop(ledger_settings, "agent:manual")
            wait_until(lambda: writer.live.find(run) is not None, what="the stop in the cache")
            run.tool_started("refund", {"i": 2})  # the integration would now run the body
            raise AssertionError("tool_started returned: the body would run")
    finally:
        hooks.shutdown()
