"""ledger.run: envelope, totals, chain, helpers, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ledger.hooks as hooks
from ledger.events import encode_event, leaf_hash
from ledger.hooks.writer import Writer
from ledger.verify import verify_ledger

from .conftest import stored


def _chain_ok(events: list[Any]) -> None:
    prev = None
    for i, event in enumerate(events):
        assert event.run_seq == i
        assert event.prev_run_hash == prev
        prev = leaf_hash(encode_event(event)).hex()


def test_run_records_identity_totals_and_chain(writer: Writer, ledger_conn, ledger_settings):
    with hooks.run(agent="support-bot", user="alice", roles=["agent-operator"], policy="p1",
                   prompt_version="v3", model="gpt-4o", tenant="acme") as run:
        assert hooks.current_run() is run
        run.prompt("triage", "v3", "You are {role}", {"role": "helper"})
        run.message_input("refund my order", origin="chat")
        run.llm_call(model="gpt-4o", request=[{"role": "user", "content": "hi"}],
                     response="ok", input_tokens=1000, output_tokens=500,
                     tool_calls=[{"id": "c1", "name": "lookup", "args": {"q": 1}}])
        run.guardrail("pii", "pass", rule="no-iban")
        run.custom("note", size=3)
        run.error(ValueError("boom"), where="planner")
        run.message_output("done")
    assert hooks.current_run() is None
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    types = [e.type for e in events]
    assert types == ["run.started", "prompt.resolved", "message.input", "llm.call.started",
                     "llm.call.ended", "guardrail.evaluated", "custom", "error.raised",
                     "message.output", "run.ended"]
    _chain_ok(events)
    for e in events:
        assert e.principal.initiating_user == "alice"
        assert e.principal.roles == ("agent-operator",)
        assert e.agent.name == "support-bot"
        assert e.versions.model == "gpt-4o" and e.versions.prompt_version == "v3"
        assert e.tenant == "acme"
    llm = events[4].data
    assert llm.cost.amount_usd == "0.0075"  # 1000*2.50/1e6 + 500*10/1e6
    assert llm.cost.price_table_version == "prices@2026-11-01"
    assert llm.proposed_tool_calls[0].name == "lookup"
    assert events[2].data.content_trust == "untrusted"
    end = events[-1]
    assert end.data.status == "succeeded"
    assert end.data.event_count == len(events)
    assert end.data.last_hash == leaf_hash(encode_event(events[-2])).hex()
    assert end.data.totals.llm_calls == 1 and end.data.totals.input_tokens == 1000
    assert end.data.totals.cost_usd == "0.0075"
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"


def test_async_run_and_failure_status(writer: Writer, ledger_conn):
    async def main() -> Any:
        async with hooks.run(agent="a", user="u") as run:
            await asyncio.sleep(0)
            assert hooks.current_run() is run
        return run

    run = asyncio.run(main())
    with pytest.raises(RuntimeError), hooks.run(agent="b") as failing:
        raise RuntimeError("kaput")
    assert writer.flush()
    assert stored(ledger_conn, run.run_id)[-1].data.status == "succeeded"
    end = stored(ledger_conn, failing.run_id)[-1]
    assert end.data.status == "failed" and end.data.error.message == "kaput"


def test_cancelled_run_records_cancelled(writer: Writer, ledger_conn):
    holder: dict[str, Any] = {}

    async def agent() -> None:
        async with hooks.run(agent="c") as run:
            holder["run"] = run
            await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(agent())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert writer.flush()
    assert stored(ledger_conn, holder["run"].run_id)[-1].data.status == "cancelled"


def test_nested_runs_restore_outer(writer: Writer):
    with hooks.run(agent="outer") as outer:
        with hooks.run(agent="inner") as inner:
            assert hooks.current_run() is inner
        assert hooks.current_run() is outer


def test_bad_tenant_is_rejected_up_front(writer: Writer):
    with pytest.raises(ValueError, match="tenant"):
        hooks.run(agent="x", tenant="Not Valid")


def test_run_outliving_reconfigure_keeps_recording(writer: Writer, ledger_conn, ledger_settings):
    with hooks.run(agent="long") as run:
        run.custom("before")
        hooks.configure(ledger_settings, sequence=True)  # closes the run's writer
        run.custom("after")  # restarts the old writer instead of being lost
    assert writer.flush() and hooks.flush()
    assert [e.type for e in stored(ledger_conn, run.run_id)][-2:] == ["custom", "run.ended"]
    assert len(stored(ledger_conn, run.run_id)) == 4
