"""Undo compensators run as a Temporal activity: an approved plan applied by a worker restores
the CRM exactly, with every step's undo events in the ledger; a second run (a retry) does
nothing new."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from ledger.config import Settings
from ledger.verify import verify_ledger
from replay.undo.approvals import approve
from replay.undo.probes import UndoContext
from replay.undo.temporal import UndoActivities, UndoRequest, UndoWorkflow
from tests.registrykit import Authority, undo_registry
from tests.undo.conftest import Agent, agent, crm, crm_snapshot, hooks, registry, smtp
from tests.undo.test_apply import undo_events
from tests.undo.test_plan import make_plan

__all__ = ["agent", "crm", "hooks", "registry", "smtp"]
pytestmark = pytest.mark.xdist_group("temporal")


def test_an_approved_plan_applied_by_a_temporal_worker(
        temporal_address: str, agent: Agent, ledger_settings: Settings,
        authority: Authority) -> None:
    undo_registry(authority)
    before = crm_snapshot(agent.conn)
    plan = make_plan(agent.conn, agent.registry, agent.script())
    approve(agent.conn, ledger_settings, plan, "carol", root=authority.root)
    undo = UndoActivities(ledger_settings, authority.root, lambda: UndoContext(
        conn=agent.conn, extra={"smtp_host": agent.smtp.host, "smtp_port": agent.smtp.port}))
    request = UndoRequest(plan.model_dump(mode="json"), plan.digest, operator="ivan")
    queue = f"undo-{uuid.uuid4()}"

    async def main() -> list[dict[str, Any]]:
        client = await Client.connect(temporal_address)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            async with Worker(client, task_queue=queue, workflows=[UndoWorkflow],
                              activities=undo.activities, activity_executor=pool):
                return [await client.execute_workflow(UndoWorkflow.run, request, task_queue=queue,
                                                      id=f"undo-{n}-{uuid.uuid4()}")
                        for n in range(2)]

    first, again = asyncio.run(main())
    assert first["status"] == "done", first
    assert first["plan_digest"] == plan.digest
    assert crm_snapshot(agent.conn)["contacts"] == before["contacts"]
    assert agent.smtp.sink.messages[-1]["Subject"] == "Correction: Your upgrade"
    ended = [e for e in undo_events(agent.conn) if e.type == "undo.step.ended"]
    assert len(ended) == len(plan.steps) == len(first["steps"])
    assert all(e.data.status == "compensated" for e in ended)
    assert {e.run_id for e in ended} == {uuid.UUID(first["undo_run_id"])}
    assert again["status"] == "done" and all(s["skipped"] for s in again["steps"])
    assert again["undo_run_id"] is None
    assert verify_ledger(agent.conn, ledger_settings).status == "ok"
