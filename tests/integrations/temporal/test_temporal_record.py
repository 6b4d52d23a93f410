"""A Temporal worker with the ledger plugin records each workflow run as one ledger run and
each activity attempt as a tool call (intent before the body, outcome after, retries as
attempts of one call), against a real dev server and a real ledger database."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.integrations.temporal import LedgerPlugin, ledger_run_id

from ..enforced import check
from .conftest import stored
from .flows import BODIES, FLAKY_FAILURES, Refund, RefundWorkflow, charge_back, notify
from .helpers import handed_over

pytestmark = pytest.mark.xdist_group("temporal")


@pytest.fixture(autouse=True)
def _fresh() -> None:
    BODIES.clear()


async def _refund(address: str, order: str, queue: str) -> tuple[str, Any]:
    client = await Client.connect(address)
    async with Worker(client, task_queue=queue, workflows=[RefundWorkflow],
                      activities=[charge_back, notify],
                      plugins=[LedgerPlugin(agent="billing", user="alice")]):
        handle = await client.start_workflow(RefundWorkflow.run, Refund(order, 40),
                                             id=f"refund-{order}-{uuid.uuid4()}",
                                             task_queue=queue)
        result = await handle.result()
        desc = await handle.describe()
    return handle.id, (result, desc.run_id)


def test_workflow_is_one_run_and_retries_are_attempts(
        temporal_address: str, writer: Writer, ledger_conn: psycopg.Connection,
        ledger_settings: Settings) -> None:
    workflow_id, (result, run_id) = asyncio.run(
        _refund(temporal_address, "o-1", f"q-{uuid.uuid4()}"))
    assert result == ["refunded o-1", "notified o-1"]
    assert BODIES == ["charge_back:o-1", "notify:o-1:1", "notify:o-1:2", "notify:o-1:3"]
    writer.flush()
    ledger_run = ledger_run_id("default", workflow_id, run_id)
    events = stored(ledger_conn, ledger_run)
    assert [e.type for e in events] == handed_over(2 + FLAKY_FAILURES)
    assert [e.run_seq for e in events] == list(range(len(events)))
    assert {(e.correlation.workflow_id, e.correlation.workflow_run_id) for e in events} == {
        (workflow_id, run_id)}
    started = events[0]
    assert started.agent.name == "billing"
    assert started.principal.initiating_user == "alice"
    temporal = started.data.attributes["temporal"]
    assert temporal["workflow_id"] == workflow_id
    assert temporal["workflow_run_id"] == run_id
    assert temporal["workflow_type"] == "RefundWorkflow"
    calls = [e.data for e in events if e.type == "tool.call.started"]
    assert [(c.tool, c.attempt) for c in calls] == [
        ("charge_back", 1), ("notify", 1), ("notify", 2), ("notify", 3)]
    assert calls[0].args == [{"order_id": "o-1", "amount_usd": 40}]
    assert calls[0].side_effect is True
    assert len({c.tool_call_id for c in calls[1:]}) == 1  # one logical call, three attempts
    assert calls[1].tool_call_id.startswith(f"temporal:{workflow_id}/{run_id}/")
    ends = [e.data for e in events if e.type == "tool.call.ended"]
    assert [e.status for e in ends] == ["ok", "error", "error", "ok"]
    assert ends[0].result == "refunded o-1"
    assert ends[1].error is not None and "mail API 503" in ends[1].error.message
    assert {e.source.framework for e in events} == {"temporal"}
    ended = events[-1].data
    assert ended.status == "succeeded"
    assert ended.totals.tool_calls == 4
    assert ended.event_count == len(events)
    verdicts = check(ledger_settings, ledger_run)
    failed = {k: v for k, (outcome, v) in verdicts.items() if outcome == "fail"}
    assert failed == {}
