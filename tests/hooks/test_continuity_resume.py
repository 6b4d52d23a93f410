"""Run continuity from the user's side (issue 17): suspend a run in one process, find it by
its key and resume it with `ledger.resume` in another (a real subprocess), continuing the same
run_id and hash chain; the approval requested before the suspension is decided after it, in
the new process, and the approved call runs there: one run, verified, and `ledger check` finds
no call executed without an approval. Real PostgreSQL, documented API only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.events import encode_event, leaf_hash
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger

from .conftest import FlakyDatabase, stored


@ledger.tool(side_effect=False)
def lookup(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "delivered"}


_RESUMER = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    import ledger

    ledger.configure(dsn=sys.argv[1], home=Path(sys.argv[2]), sequence=True,
                     sequence_interval=0.0)

    @ledger.tool(side_effect=True)
    def refund(order_id: str, amount_usd: str) -> str:
        return f"refunded {amount_usd} on {order_id}"

    run_id = ledger.find_suspended("test:thread-7")
    pending = ledger.pending_approvals(run_id)
    with ledger.resume(run_id) as run:
        for p in pending:
            ledger.decide(p.approval_id, approver="bob", roles=["finance"])
        result = refund("A-1", "150")
        run.llm_call(model="gpt-4o", input_tokens=50, output_tokens=5, response=result)
    assert ledger.flush(30)
    print(json.dumps({"run_id": str(run_id), "same": run.run_id == run_id,
                      "pending": [[p.approval_id, p.tool, p.tool_call_id] for p in pending],
                      "after": str(ledger.find_suspended("test:thread-7"))}))
''')


def _suspend_first_half(writer: Writer) -> tuple[Any, Any]:
    """Process 1: a model call, a read-only tool, an approval asked for, then the interrupt."""
    with ledger.run(agent="refund-bot", user="alice", roles=["support"], tenant="acme",
                    model="gpt-4o") as run:
        run.llm_call(model="gpt-4o", input_tokens=100, output_tokens=10,
                     tool_calls=[{"id": "call-9", "name": "refund",
                                  "args": {"order_id": "A-1", "amount_usd": "150"}}])
        assert lookup("A-1")["status"] == "delivered"
        approval = run.request_approval({"id": "call-9", "name": "refund",
                                         "args": {"order_id": "A-1", "amount_usd": "150"}},
                                        reason="over the limit", amount_usd="150")
        run.suspend("approval", resume_key="test:thread-7", pending=[approval.approval_id])
    assert writer.flush()
    return run, approval


def _resume_elsewhere(settings: Settings, tmp_path: Path) -> dict[str, Any]:
    env = {**os.environ, "LEDGER_TENANT": "acme"}
    out = subprocess.run(
        [sys.executable, "-c", _RESUMER, settings.dsn or "", str(tmp_path / "home2")],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_suspend_here_resume_in_another_process_is_one_verified_run(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
    tmp_path: Path, cli: Any,
) -> None:
    run, approval = _suspend_first_half(writer)
    assert ledger.find_suspended("test:thread-7", tenant="acme") == run.run_id
    assert [p.approval_id for p in ledger.pending_approvals(run.run_id)] == [approval.approval_id]
    first = stored(ledger_conn, run.run_id)
    assert first[-1].type == "run.suspended"
    assert first[-1].data.totals.llm_calls == 1 and first[-1].data.totals.tool_calls == 1
    assert first[-1].data.pending_approvals == (approval.approval_id,)

    result = _resume_elsewhere(ledger_settings, tmp_path)
    assert result["same"] is True and result["run_id"] == str(run.run_id)
    assert result["pending"] == [[approval.approval_id, "refund", "call-9"]]
    assert result["after"] == "None"  # resumed and ended: no longer suspended
    assert try_sequence(ledger_conn, ledger_settings) == 7  # what `ledger serve` does
    assert ledger_conn.execute("SELECT count(*) FROM ledger_rejects").fetchone() == (0,)

    events = stored(ledger_conn, run.run_id)
    assert [e.type for e in events] == [
        "run.started", "llm.call.started", "llm.call.ended", "tool.call.started",
        "tool.call.ended", "approval.requested", "run.suspended", "run.resumed",
        "approval.decided", "tool.call.started", "tool.call.ended", "llm.call.started",
        "llm.call.ended", "run.ended"]
    prev = None
    for i, e in enumerate(events):  # one chain across both processes
        assert (e.run_id, e.run_seq, e.prev_run_hash) == (run.run_id, i, prev)
        assert e.principal.initiating_user == "alice" and e.agent.name == "refund-bot"
        assert e.tenant == "acme"
        prev = leaf_hash(encode_event(e)).hex()
    assert events[7].data.suspended_event == events[6].event_id
    assert events[7].data.resume_key == "test:thread-7"
    assert events[8].data.tool_call_id == "call-9" and events[8].data.approver.id == "bob"
    assert events[9].data.tool_call_id == "call-9"  # the approved call keeps its id
    end = events[-1].data
    assert end.status == "succeeded" and end.event_count == len(events)
    assert end.last_hash == leaf_hash(encode_event(events[-2])).hex()
    assert (end.totals.llm_calls, end.totals.tool_calls) == (2, 2)
    assert (end.totals.input_tokens, end.totals.output_tokens) == (150, 15)
    assert end.totals.cost_usd == "0.000525"  # (150*2.50 + 15*10) / 1e6
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"
    assert cli("verify").exit_code == 0

    pack = tmp_path / "pack.yaml"
    pack.write_text("policies: {require_approval_for: [{action: refund, threshold_usd: 100}]}\n")
    res = cli("check", "--run", str(run.run_id), "--json", "--policy", str(pack))
    report = json.loads(res.stdout)
    assert len(report["runs"]) == 1
    verdicts = {v["rule_id"]: v for v in report["runs"][0]["verdicts"]}
    assert verdicts["approval.refund"]["outcome"] == "pass", verdicts["approval.refund"]
    assert "executed without" not in res.stdout


def test_resuming_an_ended_run_raises_and_writes_nothing(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    with ledger.run(agent="done-bot") as run:
        run.custom("step")
    assert writer.flush()
    before = ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    with pytest.raises(ledger.RunAlreadyEnded, match="has ended"):
        ledger.resume(run.run_id)
    assert isinstance(ledger.RunAlreadyEnded("x"), LookupError)
    assert writer.flush()
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events").fetchone() == before
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)
    assert [e.type for e in stored(ledger_conn, run.run_id)] == [
        "run.started", "custom", "run.ended"]


def test_unknown_run_is_not_found_and_a_database_down_fails_closed(
    writer: Writer, flaky: FlakyDatabase
) -> None:
    import uuid

    with pytest.raises(ledger.RunNotFound):
        ledger.resume(uuid.uuid4())
    assert ledger.find_suspended("test:none") is None
    with ledger.run(agent="paused-bot") as run:
        run.suspend(resume_key="test:down")
    assert writer.flush()
    flaky.go_down()
    try:
        with pytest.raises(ledger.LedgerUnavailable):
            ledger.resume(run.run_id)
        with pytest.raises(ledger.LedgerUnavailable):
            ledger.find_suspended("test:down")
        with pytest.raises(ledger.LedgerUnavailable):
            ledger.pending_approvals(run.run_id)
    finally:
        flaky.come_back()


def test_resume_in_process_and_suspend_again_keeps_totals_and_key(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    with ledger.run(agent="loop-bot", user="carol") as run:
        run.llm_call(model="gpt-4o", input_tokens=10, output_tokens=1)
        run.suspend(resume_key="test:loop")
    for _ in range(2):
        found = ledger.find_suspended("test:loop")
        assert found == run.run_id
        with ledger.resume(found) as again:
            again.llm_call(model="gpt-4o", input_tokens=10, output_tokens=1)
            again.suspend()  # the key it was resumed with
    with ledger.resume(ledger.find_suspended("test:loop")) as last:
        assert last.run_id == run.run_id
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    suspended = [e for e in events if e.type == "run.suspended"]
    assert [s.data.totals.llm_calls for s in suspended] == [1, 2, 3]
    assert {s.data.resume_key for s in suspended} == {"test:loop"}
    assert events[-1].type == "run.ended" and events[-1].data.totals.llm_calls == 3
    assert events[-1].data.event_count == len(events)
    assert ledger.find_suspended("test:loop") is None
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_open_run_resumes_by_key_else_starts_one_correlated_with_the_key(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    from ledger.hooks.continuity import open_run

    with open_run("langgraph:thread-42", agent="graph-bot", user="dan") as first:
        first.suspend("interrupt")
    with open_run("langgraph:thread-42", agent="graph-bot", user="dan") as second:
        assert second.run_id == first.run_id
    with open_run("langgraph:thread-42", agent="graph-bot", user="dan") as third:
        assert third.run_id != first.run_id  # the first one ended: a new run for the thread
    assert writer.flush()
    events = stored(ledger_conn, first.run_id)
    assert [e.type for e in events] == ["run.started", "run.suspended", "run.resumed",
                                        "run.ended"]
    assert {e.correlation.thread_id for e in events} == {"thread-42"}
    assert events[1].data.resume_key == "langgraph:thread-42"
    assert stored(ledger_conn, third.run_id)[0].correlation.thread_id == "thread-42"


def test_a_registered_resolver_gives_tools_outside_a_run_their_run(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    from ledger.hooks.context import _resolvers, register_run_resolver, resolve_run

    framework = ledger.run(agent="framework-bot", user="eve").begin()
    resolver = register_run_resolver(lambda: framework)
    try:
        assert resolve_run() is framework
        assert lookup("Z-9")["order_id"] == "Z-9"
    finally:
        _resolvers.remove(resolver)
    framework.end()
    assert writer.flush()
    assert [e.type for e in stored(ledger_conn, framework.run_id)] == [
        "run.started", "tool.call.started", "tool.call.ended", "run.ended"]
