"""Review r17a: two resumers of one suspended run (a double-clicked "approve" in a web app, two
workers picking up one workflow). Both read the same head; the sequencer keeps the first
chain and rejects the second's events. The second must then not run a side-effecting tool
whose intent is rejected (the tool would have run with no intent in the log): it fails closed
before the body, and every event it submitted ends rejected with a reason."""

from __future__ import annotations

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence

from .conftest import stored

ran: list[str] = []


@ledger.tool(side_effect=True)
def refund(order: str) -> str:
    ran.append(order)
    return f"refunded {order}"


def test_the_losing_resumer_never_runs_a_tool_without_a_logged_intent(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    with ledger.run(agent="race-bot", user="ann") as run:
        run.suspend(resume_key="k:race2")
    assert writer.flush()
    ran.clear()
    first, second = ledger.resume(run.run_id), ledger.resume(run.run_id)
    with first:
        assert refund("A-1") == "refunded A-1"
    assert writer.flush()
    try_sequence(ledger_conn, ledger_settings)
    with pytest.raises(ledger.LedgerUnavailable), second:
        refund("A-2")
    assert ran == ["A-1"]
    assert writer.flush()
    try_sequence(ledger_conn, ledger_settings)
    starts = [e.data.args["order"] for e in stored(ledger_conn, run.run_id)
              if e.type == "tool.call.started"]
    assert starts == ["A-1"]
