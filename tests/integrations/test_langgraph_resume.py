"""Outside `ledger.run(...)`: the handler opens one run per graph thread (`langgraph:<thread>`);
an interrupt suspends it (no run.ended), and the resume, by a new handler, even in a new
process, continues the same run: interrupt, decision and resume are ONE run, the approved
refund runs under the model's call id as attempt 2, and `ledger check` finds it approved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

import ledger
from ledger.events import decode_event
from ledger.integrations.langchain import LedgerCallbackHandler
from ledger.store.sequencer import try_sequence

from .conftest import stored
from .langgraph_kit import APPROVED_REFUND, refund_agent
from .test_langgraph_interrupt import verdicts

REPO = Path(__file__).resolve().parents[2]
SUSPENDED = ["run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
             "tool.call.ended", "approval.requested", "run.suspended"]
RESUMED = ["run.resumed", *APPROVED_REFUND[6:]]


def the_run(conn: Any, settings: Any, *, agent: str) -> list[Any]:
    """The one run of `agent` in the ledger (sequenced first: other processes wrote it)."""
    try_sequence(conn, settings, wait=True)
    rows = conn.execute("SELECT body FROM ledger_events WHERE type = 'run.started'").fetchall()
    runs = [e.run_id for e in (decode_event(bytes(r[0])) for r in rows) if e.agent.name == agent]
    assert len(runs) == 1, runs
    return stored(conn, runs[0])


def assert_one_story(events: list[Any], *, user: str, order: str, approver: str) -> None:
    assert [e.type for e in events] == SUSPENDED + RESUMED, [e.type for e in events]
    assert {e.run_id for e in events} == {events[0].run_id}
    assert {e.principal.initiating_user for e in events} == {user}
    assert events[0].correlation.thread_id == f"thread-{order}"
    calls = [e.data for e in events if e.type.startswith(("tool.call", "approval"))]
    assert {c.tool_call_id for c in calls} == {f"{order}-0"}
    starts = [e.data.attempt for e in events if e.type == "tool.call.started"]
    assert starts == [1, 2]
    decided = next(e.data for e in events if e.type == "approval.decided")
    assert (decided.decision, decided.approver.id) == ("approved", approver)
    suspended = next(e.data for e in events if e.type == "run.suspended")
    requested = next(e.data for e in events if e.type == "approval.requested")
    assert list(suspended.pending_approvals) == [requested.approval_id]
    assert suspended.resume_key == f"langgraph:thread-{order}"
    end = events[-1].data
    assert end.status == "succeeded" and end.event_count == len(events)
    assert (end.totals.llm_calls, end.totals.tool_calls) == (2, 2)
    assert (end.totals.input_tokens, end.totals.output_tokens) == (240, 60)


def test_new_handler_resumes_the_same_run(writer, ledger_conn, ledger_settings, cli, tmp_path):
    agent = refund_agent()
    config: Any = {"configurable": {"thread_id": "thread-5"},
                   "callbacks": [LedgerCallbackHandler(agent="lg-implicit", user="alice")]}
    first = agent.invoke({"messages": [HumanMessage("refund order 5")]}, config)
    assert first["__interrupt__"]
    web = LedgerCallbackHandler(agent="lg-implicit")  # the web request that resumes
    config["callbacks"] = [web]
    final = agent.invoke(web.resume(True, approver="bob", thread_id="thread-5"), config)
    assert final["messages"][-1].content == "done: refunded 5"
    assert writer.flush()
    events = the_run(ledger_conn, ledger_settings, agent="lg-implicit")
    assert_one_story(events, user="alice", order="5", approver="bob")
    found = verdicts(cli, tmp_path, events[0].run_id)
    assert found["approval.refund"][0] == "pass", found


def test_resume_from_a_new_process(writer, ledger_conn, ledger_settings, cli, tmp_path):
    env = {**os.environ, "LEDGER_DSN": ledger_settings.dsn or "",
           "LEDGER_HOME": str(ledger_settings.home), "PYTHONPATH": str(REPO)}

    def proc(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "tests.integrations.langgraph_proc", *args],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
                              check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    proc("interrupt", "dana", "9", str(tmp_path))
    interrupted = the_run(ledger_conn, ledger_settings, agent="lg-implicit")
    assert [e.type for e in interrupted] == SUSPENDED  # open and waiting: no run.ended
    assert ledger.find_suspended("langgraph:thread-9") == interrupted[0].run_id
    assert [p.tool_call_id for p in ledger.pending_approvals(interrupted[0].run_id)] == ["9-0"]
    assert proc("resume", "erin", "9", str(tmp_path)).strip() == "done: refunded 9"
    events = the_run(ledger_conn, ledger_settings, agent="lg-implicit")
    assert_one_story(events, user="dana", order="9", approver="erin")
    found = verdicts(cli, tmp_path, events[0].run_id)
    assert found["approval.refund"][0] == "pass", found


def test_ledger_tool_in_a_graph_run_fails_closed(writer, flaky, ledger_conn, ledger_settings):
    """Outside ledger.run, the stacked tool records into the thread's run and, with the ledger
    gone, refuses before its body: the refund never runs unrecorded."""
    agent = refund_agent()
    config: Any = {"configurable": {"thread_id": "thread-3"},
                   "callbacks": [LedgerCallbackHandler(agent="lg-closed", user="gus")]}
    first = agent.invoke({"messages": [HumanMessage("refund order 3")]}, config)
    assert first["__interrupt__"]
    assert writer.flush()
    flaky.go_down()
    config["callbacks"] = [LedgerCallbackHandler(agent="lg-closed")]
    try:
        agent.invoke(Command(resume=True), config)
        raise AssertionError("the resume should have failed closed")
    except ledger.LedgerUnavailable:
        pass
    flaky.come_back()
    events = the_run(ledger_conn, ledger_settings, agent="lg-closed")
    assert [e.type for e in events] == SUSPENDED  # nothing ran while the ledger was away
