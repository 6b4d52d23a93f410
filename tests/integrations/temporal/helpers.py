"""Shared by the Temporal tests: waiting with a deadline, and the operator's stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.stops import StopRecorded, request_stop
from ledger.store.read import run_events


async def wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Poll `check` (a sync function, run in a thread) until it is truthy or the deadline."""
    deadline = time.monotonic() + timeout
    while not (value := await asyncio.to_thread(check)):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return value


def ended_tools(settings: Settings, run_id: UUID) -> list[str]:
    """The tools whose tool.call.ended is in the log (what the operator sees)."""
    with connect(settings) as conn:
        return [s.event.data.tool for s in run_events(conn, run_id)
                if s.event.type == "tool.call.ended"]


def stop(settings: Settings, target: str) -> StopRecorded:
    """`ledger stop TARGET` as the on-call operator, from their own connection."""
    with connect(settings) as conn:
        return request_stop(conn, settings, target=target, reason="refund storm",
                            requested_by="oncall")


def handed_over(attempts: int, end: str = "run.ended") -> list[str]:
    """The event types of a workflow run whose `attempts` activity attempts ran one after
    another: the run is handed over (suspended) between writers and resumed by the next."""
    per_attempt = ["run.resumed", "tool.call.started", "tool.call.ended", "run.suspended"]
    return ["run.started", "run.suspended", *per_attempt * attempts, "run.resumed", end]
