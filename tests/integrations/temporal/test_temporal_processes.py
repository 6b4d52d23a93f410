"""Three worker processes on one task queue: the steps of one workflow run in different
processes, and each workflow is still ONE ledger run with one unbroken chain (each writer
continues from the head it reads from the ledger)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client

from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.integrations.temporal import ledger_run_id

from ..enforced import check
from .conftest import stored
from .flows import Spread
from .helpers import handed_over

pytestmark = pytest.mark.xdist_group("temporal")
REPO = Path(__file__).resolve().parents[3]
WORKERS, WORKFLOWS, STEPS = 3, 10, 4


def test_three_worker_processes_share_each_workflow_run(
        temporal_address: str, writer: Writer, ledger_conn: psycopg.Connection,
        ledger_settings: Settings) -> None:
    queue = f"q-{uuid.uuid4()}"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "tests.integrations.temporal.worker_proc", temporal_address,
         queue, str(ledger_settings.dsn), str(ledger_settings.home)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(WORKERS)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

        async def main() -> list[tuple[str, str, list[str]]]:
            client = await Client.connect(temporal_address)
            handles = [await client.start_workflow(Spread.run, STEPS, task_queue=queue,
                                                   id=f"spread-{i}-{uuid.uuid4()}")
                       for i in range(WORKFLOWS)]
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
            return [(h.id, h.result_run_id or "", r)
                    for h, r in zip(handles, results, strict=True)]

        done = asyncio.run(main())
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in procs:
            proc.wait(30)
    pids = {step.split(":")[0] for _, _, result in done for step in result}
    assert len(pids) > 1  # the steps really ran in several processes
    for wf_id, wf_run, result in done:
        assert [s.split(":")[1] for s in result] == [str(n) for n in range(STEPS)]
        run_id = ledger_run_id("default", wf_id, wf_run)
        events = stored(ledger_conn, run_id)
        assert [e.type for e in events] == handed_over(STEPS)
        assert [e.run_seq for e in events] == list(range(len(events)))
        ends = [e.data for e in events if e.type == "tool.call.ended"]
        assert [e.result for e in ends] == result
        assert events[-1].data.status == "succeeded"
        assert events[-1].data.totals.tool_calls == STEPS
        assert events[-1].data.event_count == len(events)
    verdicts = check(ledger_settings, ledger_run_id("default", done[0][0], done[0][1]))
    assert {k for k, (outcome, _) in verdicts.items() if outcome == "fail"} == set()
