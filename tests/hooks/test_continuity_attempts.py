"""Attempt numbers continue across a resume (issue 17, fixruns): a call retried after
`ledger.resume` is attempt N+1 of its `tool_call_id`, whatever integration recorded the first
N attempts and whether or not an approval was pending: the resumed run reads them from the
ledger (sequenced or still in intake), not from the memory of the process that suspended."""

from __future__ import annotations

import psycopg

import ledger
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence

from .conftest import stored


def _attempts(conn: psycopg.Connection, run_id: object) -> list[tuple[str, int]]:
    return [(e.data.tool_call_id, e.data.attempt) for e in stored(conn, run_id)
            if e.type == "tool.call.started"]


def test_a_call_retried_after_resume_continues_its_attempt_numbers(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    with ledger.run(agent="retry-bot", user="alice") as run:
        for _ in range(2):  # the provider timed out twice
            call = run.tool_started("charge", {"order": "A-1"}, tool_call_id="call-1")
            run.tool_ended(call, status="error", error="timeout")
        run.tool_ended(run.tool_started("lookup", {"order": "A-1"}, tool_call_id="call-2"),
                       result="ok")
        call = run.tool_started("ship", {"order": "A-1"}, tool_call_id="call-4", attempt=3)
        run.tool_ended(call, status="error", error="busy")  # a workflow engine's attempt 3
        run.suspend("interrupt", resume_key="test:retry")
    for _ in range(2):  # resumed twice, by new Run objects (as a new process would)
        with ledger.resume(ledger.find_suspended("test:retry")) as again:
            for call_id in ("call-1", "call-3", "call-4"):
                again.tool_ended(again.tool_started("charge", {"order": "A-1"},
                                                    tool_call_id=call_id), result="ok")
            again.suspend()
    assert writer.flush()
    assert _attempts(ledger_conn, run.run_id) == [
        ("call-1", 1), ("call-1", 2), ("call-2", 1), ("call-4", 3),
        ("call-1", 3), ("call-3", 1), ("call-4", 4),
        ("call-1", 4), ("call-3", 2), ("call-4", 5)]


def test_attempts_still_in_intake_are_counted(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    """No sequencer has run: the resumer counts the attempts waiting in intake."""
    unsequenced = ledger.configure(writer.settings, connect=writer._connect, sequence=False)
    with ledger.run(agent="retry-bot") as run:
        run.tool_ended(run.tool_started("charge", {"n": 1}, tool_call_id="c-9"), result="x")
        run.suspend("interrupt", resume_key="test:intake")
    assert unsequenced.flush()
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (0,)
    with ledger.resume(ledger.find_suspended("test:intake")) as again:
        again.tool_ended(again.tool_started("charge", {"n": 1}, tool_call_id="c-9"), result="y")
    assert ledger.flush()
    try_sequence(ledger_conn, writer.settings)  # what `ledger serve` does later
    assert _attempts(ledger_conn, run.run_id) == [("c-9", 1), ("c-9", 2)]
