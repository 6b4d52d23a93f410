"""Same LangGraph thread id, someone else's run (review r17c), from the attacker's side.

Attack: the implicit run of a graph thread is found by `langgraph:<thread_id>` only, and thread
ids are the app's own ("1", a chat id). Another agent of the tenant, or another user of the same
agent, invoking its graph with the same thread id continued alice's suspended run: its model
and tool calls were recorded as alice's (the resumed envelope is the run's own), and alice's
pending approval was adopted by its process. Outcome now: `open_run` resumes a suspended run
only for the same agent (and the same user when both name one); anyone else starts a run of
their own, and alice's run stays suspended with its approval pending, for her resume.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage

import ledger
from ledger.events import decode_event
from ledger.integrations.langchain import LedgerCallbackHandler
from ledger.store.sequencer import try_sequence

from .conftest import stored
from .langgraph_kit import refund_agent

SUSPENDED = ["run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
             "tool.call.ended", "approval.requested", "run.suspended"]


def _runs(conn: Any, settings: Any) -> dict[tuple[str, str | None], list[Any]]:
    try_sequence(conn, settings, wait=True)
    rows = conn.execute("SELECT body FROM ledger_events WHERE type = 'run.started'").fetchall()
    started = [decode_event(bytes(r[0])) for r in rows]
    return {(e.agent.name, e.principal.initiating_user): stored(conn, e.run_id) for e in started}


def _interrupt(agent: str, user: str, thread: str) -> None:
    config: Any = {"configurable": {"thread_id": thread},
                   "callbacks": [LedgerCallbackHandler(agent=agent, user=user)]}
    out = refund_agent().invoke({"messages": [HumanMessage("refund order 5")]}, config)
    assert out["__interrupt__"]


def test_other_agent_or_user_with_same_thread_id_gets_own_run(
        writer: Any, ledger_conn: Any, ledger_settings: Any) -> None:
    _interrupt("billing", "alice", "1")
    assert writer.flush()
    alice = _runs(ledger_conn, ledger_settings)[("billing", "alice")]
    pending = ledger.pending_approvals(alice[0].run_id)
    _interrupt("sales", "mallory", "1")  # another agent, same thread id
    _interrupt("billing", "bob", "1")  # same agent, another user
    assert writer.flush()
    runs = _runs(ledger_conn, ledger_settings)
    assert set(runs) == {("billing", "alice"), ("sales", "mallory"), ("billing", "bob")}
    for (agent, user), events in runs.items():
        assert [e.type for e in events] == SUSPENDED, (agent, user)
        assert {(e.agent.name, e.principal.initiating_user) for e in events} == {(agent, user)}
        assert {e.run_id for e in events} == {events[0].run_id}
    assert len({events[0].run_id for events in runs.values()}) == 3
    assert ledger.pending_approvals(alice[0].run_id) == pending  # nobody adopted hers
    assert ledger.find_suspended("langgraph:1") == runs[("billing", "bob")][0].run_id
