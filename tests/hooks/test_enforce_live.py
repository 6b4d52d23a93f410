"""Enforcement and the live state (issue 16): fail closed when the pack in force cannot be
confirmed, and a stop honoured while a call waits for its approval. Real PostgreSQL; waits are
on conditions with deadlines.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

import ledger
import ledger.hooks.enforce
import ledger.hooks.precheck
import ledger.hooks.runs
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.hooks import configure, shutdown
from ledger.hooks.writer import Writer
from ledger.stops import request_stop
from ledger.store.sequencer import try_sequence
from replay.policy import load_pack_text
from replay.policy.published import publish_policy

from .conftest import FlakyDatabase, stored

runs: list[int] = []


@ledger.tool(name="payments.refund")
def refund(order: int, amount_usd: int) -> int:
    runs.append(order)
    return order


def _publish(conn: psycopg.Connection, settings: Settings, text: str) -> str:
    loaded = load_pack_text("policy: {id: live, version: '1'}\nmode: enforce\n" + text, "p.yaml")
    digest = publish_policy(conn, settings, loaded).policy_hash
    try_sequence(conn, settings, wait=True)
    return digest


def _until(cond: Callable[[], bool], what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.01)


@pytest.fixture
def fast_writer(ledger_settings: Settings, flaky: FlakyDatabase,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Writer]:
    monkeypatch.setenv("LEDGER_LIVE_POLL", "0.05")  # staleness bound 3 x 0.05 s
    w = configure(ledger_settings, connect=flaky, sequence=True, retry_interval=0.05,
                  sequence_interval=0.0)
    yield w
    shutdown()


def test_unconfirmed_pack_fails_closed(
    fast_writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
    flaky: FlakyDatabase,
) -> None:
    _publish(ledger_conn, ledger_settings, "tools: {allow: [payments.refund]}\n")
    runs.clear()
    origin = ledger_settings.origin(None)
    with ledger.run(agent="a") as run:
        assert refund(1, 5) == 1
        flaky.go_down()  # the listener and the writer lose the database
        live = fast_writer.live
        _until(lambda: not live.current(origin), "the live state to go stale")
        with pytest.raises(ledger.PolicyDenied, match="cannot confirm the pack in force") as e:
            refund(2, 5)
        assert e.value.rules == ("live.pack_unconfirmed",)
        flaky.come_back()
        assert refund(3, 5) == 3  # confirmed again: the call runs
    run.flush()
    assert runs == [1, 3]
    decided = [e.data for e in stored(ledger_conn, run.run_id) if e.type == "policy.decided"]
    assert [d.decision for d in decided] == ["allow", "deny", "allow"]  # the deny is on record


def test_stop_while_waiting_for_an_approval(
    fast_writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    _publish(ledger_conn, ledger_settings, "policies:\n  approval_wait_seconds: 60\n"
             "  require_approval_for: [{action: payments.refund, any: true}]\n")
    runs.clear()
    outcome: list[Any] = []
    started = threading.Event()
    run_id: list[uuid.UUID] = []

    def agent() -> None:
        try:
            with ledger.run(agent="waiter") as run:
                run_id.append(run.run_id)
                started.set()
                refund(9, 500)
        except BaseException as exc:  # the test reads what the agent got
            outcome.append(exc)

    thread = threading.Thread(target=agent)
    thread.start()
    assert started.wait(10)

    def requested() -> bool:
        fast_writer.flush(5)
        return any(e.type == "approval.requested" for e in stored(ledger_conn, run_id[0]))

    _until(requested, "the approval request")
    with connect(ledger_settings) as conn:
        request_stop(conn, ledger_settings, target=f"run:{run_id[0]}", reason="halt",
                     requested_by="ops@example")
    thread.join(10)
    assert not thread.is_alive()
    assert runs == []
    assert isinstance(outcome[0], ledger.RunStopped)
    assert "waiting for approval" in str(outcome[0])


def test_approval_granted_while_waiting_runs_the_same_call(
    fast_writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    _publish(ledger_conn, ledger_settings, "policies:\n  approval_wait_seconds: 60\n"
             "  require_approval_for: [{action: payments.refund, threshold_usd: 100}]\n")
    runs.clear()
    got: list[Any] = []

    with ledger.run(agent="waiter", user="ann") as run:
        def approver() -> None:
            def asked() -> bool:
                fast_writer.flush(5)
                return any(e.type == "approval.requested" for e in stored(ledger_conn, run.run_id))

            _until(asked, "the approval request")
            req = next(e.data for e in stored(ledger_conn, run.run_id)
                       if e.type == "approval.requested")
            got.append(req)
            ledger.decide(req.approval_id, approver="carol", roles=["finance"])

        thread = threading.Thread(target=approver)
        thread.start()
        assert refund(4, 500) == 4  # held, approved meanwhile, then run
        thread.join(10)
    run.flush()
    assert runs == [4]
    started = [e.data for e in stored(ledger_conn, run.run_id) if e.type == "tool.call.started"]
    assert [s.tool_call_id for s in started] == [got[0].tool_call_id]
    decided = [e.data for e in stored(ledger_conn, run.run_id) if e.type == "policy.decided"]
    assert [d.decision for d in decided] == ["require_approval", "allow"]
    assert decided[1].basis.approval is not None


def test_resumed_run_starts_from_the_database_totals(
    fast_writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    _publish(ledger_conn, ledger_settings, "budgets: {max_usd_per_run: 5}\n")
    with ledger.run(agent="spender") as first:
        first.llm_call(model="no-such-model-y", input_tokens=3, output_tokens=4)
        first.llm_call(model="no-such-model-y", input_tokens=1, output_tokens=1)
    first.flush()
    again = ledger.hooks.runs.Run(agent="spender", run_id=first.run_id)
    fast_writer.live.watch(again.tenant)
    enf = ledger.hooks.enforce.pin(again, resumed=True)  # what `with` does at run start
    assert enf is not None
    assert enf.totals.current()[1:] == (9, 2)  # tokens and unknown-cost calls so far


def test_a_restarted_process_finds_the_pending_call(
    fast_writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    _publish(ledger_conn, ledger_settings,
             "policies:\n  require_approval_for: [{action: payments.refund, any: true}]\n")
    with ledger.run(agent="held") as first:
        with pytest.raises(ledger.ApprovalRequired) as held:
            refund(5, 50)
    first.flush()
    again = ledger.hooks.runs.Run(agent="held", run_id=first.run_id)  # another process's view
    fast_writer.live.watch(again.tenant)
    enf = ledger.hooks.enforce.pin(again, resumed=True)
    assert enf is not None
    key = ("payments.refund", held.value.args_hash)
    ledger.hooks.precheck._held_call(again, enf, key)  # what the retry looks up first
    assert enf.pending[key] == (held.value.tool_call_id, held.value.approval_id)
