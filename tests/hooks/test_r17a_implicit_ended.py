"""Review r17a: implicit runs from the attacker's (and the unlucky integrator's) side. A run
resolver that hands back a run which has already ended (an integration caching the framework
run's Run past its end) must not make a tool run whose intent lands after run.ended, where the
sequencer rejects it: the tool ran with no intent in the log. The call gets a one-call
implicit run instead, with its intent sequenced before the body."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import ledger
from ledger.hooks import context
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence

from .conftest import stored

ran: list[str] = []


@ledger.tool(side_effect=True)
def wire(usd: str) -> str:
    ran.append(usd)
    return f"wired {usd}"


@pytest.fixture
def stale_resolver() -> Iterator[list[ledger.Run]]:
    held: list[ledger.Run] = []
    fn = context.register_run_resolver(lambda: held[0] if held else None)
    try:
        yield held
    finally:
        context._resolvers.remove(fn)


def test_a_resolver_returning_an_ended_run_never_hides_the_tools_intent(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings, stale_resolver  # type: ignore[no-untyped-def]
) -> None:
    with ledger.run(agent="graph", user="ann") as old:
        pass
    stale_resolver.append(old)
    ran.clear()
    assert wire("900") == "wired 900"
    assert ran == ["900"]
    assert writer.flush()
    try_sequence(ledger_conn, ledger_settings)
    assert ledger_conn.execute("SELECT reason FROM ledger_rejects").fetchall() == []
    assert [e.type for e in stored(ledger_conn, old.run_id)] == ["run.started", "run.ended"]
    (run_id,) = ledger_conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'tool.call.started'").fetchone()
    events = stored(ledger_conn, run_id)
    assert [e.type for e in events] == ["run.started", "tool.call.started", "tool.call.ended",
                                        "run.ended"]
    assert events[0].data.implicit is True and events[1].data.tool == "wire"


def test_a_resolver_returning_something_else_than_a_run_is_skipped(
    writer: Writer, ledger_conn: psycopg.Connection, stale_resolver  # type: ignore[no-untyped-def]
) -> None:
    stale_resolver.append("not a run")
    ran.clear()
    assert wire("5") == "wired 5"
    assert writer.flush()
    (run_id,) = ledger_conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'tool.call.started'").fetchone()
    assert stored(ledger_conn, run_id)[0].data.implicit is True
