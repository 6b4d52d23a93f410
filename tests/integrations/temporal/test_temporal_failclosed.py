"""Fail closed: with the ledger database down, an activity's run cannot be continued (its head
is unreadable) nor its intent made durable, so its body does not run; the activity fails
`LedgerUnavailable` (retryable: Temporal tries again once the ledger is back)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from ledger.hooks.writer import Writer
from ledger.integrations.temporal import LedgerPlugin, ledger_run_id

from .conftest import FlakyDatabase, stored
from .flows import BODIES, HELD, HeldRefund, OneCharge, Refund, charge_back, hold, notify
from .helpers import handed_over, wait_for

pytestmark = pytest.mark.xdist_group("temporal")


def test_database_down_the_activity_does_not_run(
        temporal_address: str, writer: Writer, flaky: FlakyDatabase,
        ledger_conn: psycopg.Connection) -> None:
    BODIES.clear()
    queue, wf_id = f"q-{uuid.uuid4()}", f"down-{uuid.uuid4()}"

    async def main() -> tuple[BaseException, uuid.UUID]:
        client = await Client.connect(temporal_address)
        async with Worker(client, task_queue=queue, workflows=[OneCharge],
                          activities=[charge_back], plugins=[LedgerPlugin(agent="billing")]):
            flaky.go_down()
            handle = await client.start_workflow(OneCharge.run, Refund("o-9", 90), id=wf_id,
                                                 task_queue=queue)
            with pytest.raises(WorkflowFailureError) as failed:
                await asyncio.wait_for(handle.result(), 30)
            return failed.value, ledger_run_id("default", wf_id, handle.result_run_id or "")

    failure, run_id = asyncio.run(main())
    assert BODIES == []  # the refund never ran
    cause = failure.__cause__  # the ledger could not open the run: nothing of it ran
    assert isinstance(cause, ApplicationError) and cause.type == "LedgerUnavailable"
    flaky.come_back()
    assert writer.flush()
    assert stored(ledger_conn, run_id) == []


def test_database_lost_mid_workflow_every_retry_fails_closed(
        temporal_address: str, writer: Writer, flaky: FlakyDatabase,
        ledger_conn: psycopg.Connection) -> None:
    """The run started with the ledger up; it goes away while `hold` runs: each of notify's
    five attempts is refused before its body (the run's head cannot be read, so its chain
    cannot continue), and the run stays suspended (`ledger serve` abandons it later)."""
    BODIES.clear()
    queue, wf_id = f"q-{uuid.uuid4()}", f"lost-{uuid.uuid4()}"

    async def main() -> tuple[BaseException, uuid.UUID]:
        client = await Client.connect(temporal_address)
        async with Worker(client, task_queue=queue, workflows=[HeldRefund],
                          activities=[charge_back, hold, notify],
                          plugins=[LedgerPlugin(agent="billing")]):
            HELD[wf_id] = asyncio.Event()
            handle = await client.start_workflow(HeldRefund.run, Refund("o-5", 50), id=wf_id,
                                                 task_queue=queue)
            await wait_for(lambda: "hold:o-5" in BODIES, "the held activity")
            flaky.go_down()
            HELD[wf_id].set()  # type: ignore[attr-defined]
            with pytest.raises(WorkflowFailureError) as failed:
                await asyncio.wait_for(handle.result(), 60)
            return failed.value, ledger_run_id("default", wf_id, handle.result_run_id or "")

    failure, run_id = asyncio.run(main())
    assert BODIES == ["charge_back:o-5", "hold:o-5"]  # notify's body never ran
    activity_error = failure.__cause__
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.__cause__
    assert isinstance(cause, ApplicationError)
    assert cause.type == "LedgerUnavailable" and not cause.non_retryable
    assert "cannot continue without its head" in str(cause)
    flaky.come_back()
    assert writer.flush()
    events = stored(ledger_conn, run_id)  # the run waits, suspended, for `ledger serve`
    assert [e.type for e in events] == handed_over(2)[:-2]
    assert [e.run_seq for e in events] == list(range(len(events)))
