"""Twelve workflows at once through ONE worker and ONE plugin (one interceptor): each is its
own ledger run, with its own activities and retries, nothing crossed between runs."""

from __future__ import annotations

import asyncio
import uuid

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
N = 12


def test_twelve_concurrent_workflows_share_one_interceptor(
        temporal_address: str, writer: Writer, ledger_conn: psycopg.Connection,
        ledger_settings: Settings) -> None:
    BODIES.clear()
    queue = f"q-{uuid.uuid4()}"

    async def main() -> list[tuple[str, str, list[str]]]:
        client = await Client.connect(temporal_address)
        async with Worker(client, task_queue=queue, workflows=[RefundWorkflow],
                          activities=[charge_back, notify],
                          plugins=[LedgerPlugin(agent="billing")]):
            handles = [await client.start_workflow(RefundWorkflow.run, Refund(f"c-{i}", i),
                                                   id=f"conc-{i}-{uuid.uuid4()}",
                                                   task_queue=queue) for i in range(N)]
            results = await asyncio.gather(*(h.result() for h in handles))
        return [(h.id, h.result_run_id or "", r) for h, r in zip(handles, results, strict=True)]

    done = asyncio.run(main())
    assert len(BODIES) == N * (2 + FLAKY_FAILURES)
    writer.flush()
    for i, (wf_id, wf_run, result) in enumerate(done):
        assert result == [f"refunded c-{i}", f"notified c-{i}"]
        run_id = ledger_run_id("default", wf_id, wf_run)
        events = stored(ledger_conn, run_id)
        assert [e.run_seq for e in events] == list(range(len(events)))
        assert [e.type for e in events] == handed_over(2 + FLAKY_FAILURES)
        assert events[0].data.attributes["temporal"]["workflow_id"] == wf_id
        calls = [e.data for e in events if e.type == "tool.call.started"]
        assert [c.args for c in calls] == [[{"order_id": f"c-{i}", "amount_usd": i}],
                                          *[[f"c-{i}"]] * (1 + FLAKY_FAILURES)]
        assert {c.tool_call_id.split("/")[0] for c in calls} == {f"temporal:{wf_id}"}
        assert events[-1].data.status == "succeeded"
        assert events[-1].data.totals.tool_calls == 2 + FLAKY_FAILURES
    verdicts = check(ledger_settings, ledger_run_id("default", done[0][0], done[0][1]))
    assert {k for k, (outcome, _) in verdicts.items() if outcome == "fail"} == set()
