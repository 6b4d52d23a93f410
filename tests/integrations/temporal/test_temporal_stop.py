"""A ledger stop cancels the workflow: the activity about to start is refused (its body never
runs) and the workflow is cancelled through the client, even one idle in a signal wait; the
run ends `stopped`, naming the stop."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import Worker

from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.integrations.temporal import LedgerInterceptor, LedgerPlugin, ledger_run_id

from ..enforced import check
from .conftest import stored
from .flows import (
    BODIES,
    HELD,
    ApprovalWorkflow,
    HeldRefund,
    Refund,
    charge_back,
    hold,
    notify,
)
from .helpers import ended_tools, handed_over, stop, wait_for

pytestmark = pytest.mark.xdist_group("temporal")


@pytest.fixture(autouse=True)
def _fresh() -> None:
    BODIES.clear()
    HELD.clear()


def _assert_stopped(conn: psycopg.Connection, run_id: uuid.UUID, stop_event: uuid.UUID
                    ) -> list[Any]:
    events = stored(conn, run_id)
    end = events[-1]
    assert end.type == "run.ended" and end.data.status == "stopped"
    assert end.data.stopped_by is not None
    assert end.data.stopped_by.requested_by == "oncall"
    assert end.data.stopped_by.stop_event_id == stop_event
    assert end.data.event_count == len(events)
    return events


def test_stop_refuses_the_next_activity_and_cancels_the_workflow(
        temporal_address: str, writer: Writer, ledger_conn: psycopg.Connection,
        ledger_settings: Settings) -> None:
    """No watcher here (the bare interceptor): the refusal itself asks for the cancel."""
    queue, wf_id = f"q-{uuid.uuid4()}", f"held-{uuid.uuid4()}"

    async def main() -> tuple[BaseException, Any, uuid.UUID, uuid.UUID]:
        client = await Client.connect(temporal_address)
        interceptor = LedgerInterceptor(agent="billing")
        HELD[wf_id] = asyncio.Event()
        async with Worker(client, task_queue=queue, workflows=[HeldRefund],
                          activities=[charge_back, hold, notify, *interceptor.activities],
                          interceptors=[interceptor]):
            handle = await client.start_workflow(HeldRefund.run, Refund("o-7", 70), id=wf_id,
                                                 task_queue=queue)
            run_id = ledger_run_id("default", wf_id, handle.result_run_id or "")
            await wait_for(lambda: "hold:o-7" in BODIES, "the held activity")
            await wait_for(lambda: "charge_back" in ended_tools(ledger_settings, run_id),
                           "the charge in the log")
            recorded = await asyncio.to_thread(stop, ledger_settings, f"run:{run_id}")
            HELD[wf_id].set()  # type: ignore[attr-defined]
            with pytest.raises(WorkflowFailureError) as failed:
                await asyncio.wait_for(handle.result(), 20)
            desc = await handle.describe()
        return failed.value, desc.status, run_id, recorded.event_id

    failure, status, run_id, stop_event = asyncio.run(main())
    assert status == WorkflowExecutionStatus.CANCELED
    assert isinstance(failure.__cause__, CancelledError)
    assert BODIES == ["charge_back:o-7", "hold:o-7"]  # notify never ran
    writer.flush()
    events = _assert_stopped(ledger_conn, run_id, stop_event)
    calls = [(e.data.tool, e.data.status) for e in events if e.type == "tool.call.ended"]
    assert calls[:2] == [("charge_back", "ok"), ("hold", "ok")]
    assert calls[2:] in ([("notify", "refused")], [])  # refused, unless the cancel came first
    verdicts = check(ledger_settings, run_id)
    assert {k for k, (outcome, _) in verdicts.items() if outcome == "fail"} == set()


def test_stop_cancels_a_workflow_idle_in_a_signal_wait(
        temporal_address: str, writer: Writer, ledger_conn: psycopg.Connection,
        ledger_settings: Settings) -> None:
    queue, wf_id = f"q-{uuid.uuid4()}", f"idle-{uuid.uuid4()}"

    async def main() -> tuple[BaseException, Any, uuid.UUID, uuid.UUID]:
        client = await Client.connect(temporal_address)
        async with Worker(client, task_queue=queue, workflows=[ApprovalWorkflow],
                          activities=[charge_back, notify],
                          plugins=[LedgerPlugin(agent="billing")]):
            handle = await client.start_workflow(ApprovalWorkflow.run, Refund("o-8", 80),
                                                 id=wf_id, task_queue=queue)
            run_id = ledger_run_id("default", wf_id, handle.result_run_id or "")
            await wait_for(lambda: "charge_back" in ended_tools(ledger_settings, run_id),
                           "the charge in the log")
            recorded = await asyncio.to_thread(stop, ledger_settings, f"run:{run_id}")
            with pytest.raises(WorkflowFailureError) as failed:
                await asyncio.wait_for(handle.result(), 30)
            desc = await handle.describe()
        return failed.value, desc.status, run_id, recorded.event_id

    failure, status, run_id, stop_event = asyncio.run(main())
    assert status == WorkflowExecutionStatus.CANCELED
    assert isinstance(failure.__cause__, CancelledError)
    assert BODIES == ["charge_back:o-8"]
    writer.flush()
    events = _assert_stopped(ledger_conn, run_id, stop_event)
    assert [e.type for e in events] == handed_over(1)


def test_a_workflow_started_in_a_stopped_scope_fails_at_once(
        temporal_address: str, writer: Writer, ledger_conn: psycopg.Connection,
        ledger_settings: Settings) -> None:
    """`ledger stop agent:billing` before the workflow starts: nothing of it runs."""
    recorded = stop(ledger_settings, "agent:billing")
    queue, wf_id = f"q-{uuid.uuid4()}", f"scoped-{uuid.uuid4()}"

    async def main() -> tuple[BaseException, uuid.UUID]:
        client = await Client.connect(temporal_address)
        async with Worker(client, task_queue=queue, workflows=[ApprovalWorkflow],
                          activities=[charge_back, notify],
                          plugins=[LedgerPlugin(agent="billing")]):
            handle = await client.start_workflow(ApprovalWorkflow.run, Refund("o-3", 30),
                                                 id=wf_id, task_queue=queue)
            with pytest.raises(WorkflowFailureError) as failed:
                await asyncio.wait_for(handle.result(), 30)
        return failed.value, ledger_run_id("default", wf_id, handle.result_run_id or "")

    failure, run_id = asyncio.run(main())
    cause = failure.__cause__
    assert isinstance(cause, ApplicationError)
    assert cause.type == "RunStopped" and cause.non_retryable
    assert BODIES == []
    writer.flush()
    events = _assert_stopped(ledger_conn, run_id, recorded.event_id)
    assert [e.type for e in events] == ["run.started", "run.ended"]
