"""The ledger runs of Temporal workflow runs, shared by every activity of one worker process.

One workflow run is one ledger run. Its id is derived from the workflow (namespace, workflow
id, run id), so every process that sees the workflow names the same run without asking anyone.
The run is opened by the workflow's first local activity (`OPEN_ACTIVITY`, in the process
running the workflow) and ended by its last (`END_ACTIVITY`). An activity of the workflow that
runs in this process joins the open `Run` object (one chain, one writer); an activity in
another process continues the chain from the head read from the ledger (`ledger.resume`, once
run continuity is available), never from a guess.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client

from ledger.hooks.errors import LedgerUnavailable, RunStopped
from ledger.hooks.runs import Run
from ledger.integrations.temporal_workflow import END_ACTIVITY, OPEN_ACTIVITY, RunEnd, RunOpen

__all__ = ["SOURCE", "RunRegistry", "StopWatcher", "ledger_run_id"]

log = logging.getLogger("ledger.integrations.temporal")
SOURCE = {"framework": "temporal", "integration": "ledger.integrations.temporal"}
MAX_ENDED = 4096
_NAMESPACE = uuid.UUID("8f0c2a4e-6b1d-5c3e-9a7f-2d4b6e8f0a1c")


def ledger_run_id(namespace: str, workflow_id: str, run_id: str) -> uuid.UUID:
    """The ledger run id of a workflow run: the same in every process, on every replay."""
    return uuid.uuid5(_NAMESPACE, f"temporal:{namespace}/{workflow_id}/{run_id}")


def temporal_attributes(ref: RunOpen) -> dict[str, Any]:
    """What run.started keeps of the workflow (until Correlation carries workflow ids)."""
    return {"temporal": {"namespace": ref.namespace, "workflow_id": ref.workflow_id,
                         "workflow_run_id": ref.run_id, "workflow_type": ref.workflow_type,
                         "task_queue": ref.task_queue}}


@dataclass
class _Entry:
    run: Run
    ref: RunOpen
    users: int = 0
    cancelled: bool = False


@dataclass
class RunRegistry:
    """The workflow runs open in this process, and how to open one (the plugin's settings)."""

    agent: str | None = None
    run_kwargs: dict[str, Any] = field(default_factory=dict)
    client: Client | None = None
    _open: dict[uuid.UUID, _Entry] = field(default_factory=dict)
    _ended: dict[uuid.UUID, None] = field(default_factory=dict)  # recently ended, FIFO
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the workflow's local activities ---------------------------------------------------
    def activities(self) -> list[Callable[..., Any]]:
        """The two local activities the workflow interceptor calls (register them on the
        worker; `LedgerPlugin` does)."""

        @activity.defn(name=OPEN_ACTIVITY)
        async def open_run(ref: RunOpen) -> str:
            return await asyncio.to_thread(self.open, ref)

        @activity.defn(name=END_ACTIVITY)
        async def end_run(end: RunEnd) -> None:
            await asyncio.to_thread(self.end, end)

        return [open_run, end_run]

    def open(self, ref: RunOpen) -> str:
        """Record run.started (once: a replayed workflow reads this activity's marker)."""
        run_id = ledger_run_id(ref.namespace, ref.workflow_id, ref.run_id)
        with self._lock:
            if run_id in self._open:
                return "open"
        run = Run(agent=self.agent or ref.workflow_type, run_id=run_id,
                  attributes={**self.run_kwargs.get("attributes", {}),
                              **temporal_attributes(ref)},
                  source=SOURCE, **{k: v for k, v in self.run_kwargs.items()
                                    if k != "attributes"})
        run._resumed = False  # a new run: its totals start at zero, not from the database
        try:
            run.begin()
        except RunStopped as exc:  # a stopped scope: started, ended `stopped`, refused
            return f"run {run_id} refused at start: {exc}"
        with self._lock:
            self._open[run_id] = _Entry(run, ref, users=1)
        return "open"

    def end(self, end: RunEnd) -> None:
        """Record run.ended: `stopped` when a ledger stop covers the run, whatever the
        workflow made of the cancellation."""
        run_id = ledger_run_id(end.run.namespace, end.run.workflow_id, end.run.run_id)
        with self._lock:
            entry = self._open.pop(run_id, None)
            if entry is None and run_id in self._ended:  # a retried or replayed end
                return
            self._ended[run_id] = None
            while len(self._ended) > MAX_ENDED:
                del self._ended[next(iter(self._ended))]
        try:
            run = entry.run if entry is not None else self._resume(run_id)
        except LookupError:  # already ended (by another process's retry of this end)
            return
        stop = run.stopped_by or run.writer.live.find(run)
        if stop is not None:
            run.stopped_by = stop
            run.end("stopped", end.error)
        else:
            run.end(end.status, _error(end))
        run.flush()

    # -- the activities' side --------------------------------------------------------------
    def join(self, ref: RunOpen) -> Run:
        """The open run of the workflow, for one activity attempt (release it after)."""
        run_id = ledger_run_id(ref.namespace, ref.workflow_id, ref.run_id)
        with self._lock:
            entry = self._open.get(run_id)
            if entry is not None:
                entry.users += 1
                return entry.run
        run = self._resume(run_id)
        with self._lock:
            entry = self._open.setdefault(run_id, _Entry(run, ref))
            entry.users += 1
            return entry.run

    def release(self, run: Run) -> None:
        """An activity attempt is done with the run (the workflow's own hold stays)."""
        with self._lock:
            entry = self._open.get(run.run_id)
            if entry is None:
                return
            entry.users -= 1
            if entry.users <= 0:
                del self._open[run.run_id]

    def _resume(self, run_id: uuid.UUID) -> Run:
        """Continue a run opened by another process, from the head read from the ledger."""
        import ledger

        resume = getattr(ledger, "resume", None)
        if resume is None:
            raise LedgerUnavailable(
                f"the ledger run {run_id} of this workflow is open in another worker process "
                "and this ledger version cannot continue it (no ledger.resume); the activity "
                "was not run")
        run: Run = resume(run_id)
        run.begin()
        return run

    # -- stops -----------------------------------------------------------------------------
    def stopped_entries(self) -> list[tuple[RunOpen, Run]]:
        """Open workflow runs a stop in this process's cache now covers (not yet cancelled)."""
        with self._lock:
            entries = [e for e in self._open.values() if not e.cancelled]
        hits = []
        for entry in entries:
            stop = entry.run.writer.live.find(entry.run)
            if stop is not None:
                entry.cancelled = True
                entry.run.stopped_by = entry.run.stopped_by or stop
                hits.append((entry.ref, entry.run))
        return hits

    async def cancel(self, ref: RunOpen, reason: str) -> None:
        """Ask Temporal to cancel the workflow run (cooperative: its code sees CancelledError
        at its next await, a timer or a signal wait included)."""
        client = self.client
        if client is None and activity.in_activity():
            client = activity.client()
        if client is None:
            log.warning("ledger: cannot cancel workflow %s: no Temporal client", ref.workflow_id)
            return
        handle = client.get_workflow_handle(ref.workflow_id, run_id=ref.run_id)
        try:
            await handle.cancel()
        except Exception as exc:  # already closed, or the server away: the stop still holds
            log.info("ledger: cancel of workflow %s: %s", ref.workflow_id, exc)
        del reason


def _error(end: RunEnd) -> str | None:
    if end.error is None:
        return None
    return f"{end.error_type}: {end.error}" if end.error_type else end.error


class StopWatcher:
    """Cancels the workflows of this worker that a ledger stop covers, idle ones included.

    The stop state itself arrives through the hooks' live cache (LISTEN ledger_live, polls);
    this loop only compares the open workflow runs against that in-memory cache."""

    def __init__(self, registry: RunRegistry, interval: float = 0.1) -> None:
        self.registry = registry
        self.interval = interval

    async def run(self) -> None:
        while True:
            for ref, run in self.registry.stopped_entries():
                await self.registry.cancel(ref, f"ledger stop of run {run.run_id}")
            await asyncio.sleep(self.interval)
