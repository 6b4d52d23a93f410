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

from ledger.hooks.continuity import find_suspended, resume
from ledger.hooks.errors import LedgerUnavailable, RunExists, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.setup import ack_timeout, get_writer
from ledger.integrations.temporal_workflow import END_ACTIVITY, OPEN_ACTIVITY, RunEnd, RunOpen

__all__ = ["SOURCE", "RunRegistry", "StopWatcher", "ledger_run_id"]

log = logging.getLogger("ledger.integrations.temporal")
SOURCE = {"framework": "temporal", "integration": "ledger.integrations.temporal"}
_NAMESPACE = uuid.UUID("8f0c2a4e-6b1d-5c3e-9a7f-2d4b6e8f0a1c")


def ledger_run_id(namespace: str, workflow_id: str, run_id: str) -> uuid.UUID:
    """The ledger run id of a workflow run: the same in every process, on every replay."""
    return uuid.uuid5(_NAMESPACE, f"temporal:{namespace}/{workflow_id}/{run_id}")


def resume_key(ref: RunOpen) -> str:
    """`temporal:<workflow_id>` (the continuity contract's key for a Temporal run)."""
    return f"temporal:{ref.workflow_id}"


def correlation(ref: RunOpen) -> dict[str, str]:
    """The workflow ids every event of the run carries."""
    return {"workflow_id": ref.workflow_id, "workflow_run_id": ref.run_id}


def temporal_attributes(ref: RunOpen) -> dict[str, Any]:
    """What run.started keeps of the workflow beyond the correlated ids."""
    return {"temporal": {"namespace": ref.namespace, "workflow_id": ref.workflow_id,
                         "workflow_run_id": ref.run_id, "workflow_type": ref.workflow_type,
                         "task_queue": ref.task_queue}}


@dataclass
class _Entry:
    run: Run | None
    ref: RunOpen
    users: int = 0
    ready: threading.Event = field(default_factory=threading.Event)


class _Probe:
    """What the stop cache judges a run by (id, tenant, agent, versions) without opening it:
    a workflow idle between activities has no `Run` in any process."""

    def __init__(self, run_id: uuid.UUID, agent: str | None, run_kwargs: dict[str, Any],
                 ref: RunOpen) -> None:
        self.run_id = run_id
        self.tenant = run_kwargs.get("tenant") or get_writer().settings.tenant
        self.prompts: set[str] = set()
        self.envelope = {"agent": {"name": agent or ref.workflow_type,
                                   "version": run_kwargs.get("agent_version")},
                         "versions": {"model": run_kwargs.get("model"),
                                      "prompt_version": run_kwargs.get("prompt_version")}}


@dataclass
class RunRegistry:
    """The workflow runs open in this process, and how to open one (the plugin's settings)."""

    agent: str | None = None
    run_kwargs: dict[str, Any] = field(default_factory=dict)
    client: Client | None = None
    _open: dict[uuid.UUID, _Entry] = field(default_factory=dict)
    _watched: dict[uuid.UUID, RunOpen] = field(default_factory=dict)  # open workflow runs
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
        """Record run.started, then hand the run over (run.suspended): whichever process runs
        the workflow's next activity continues it from the ledger's head. A retried open
        finds the run suspended under its key and leaves it as it is."""
        run_id = ledger_run_id(ref.namespace, ref.workflow_id, ref.run_id)
        key = resume_key(ref)
        self._watch(ref)
        if find_suspended(key, tenant=self.run_kwargs.get("tenant")) == run_id:
            return "open"
        run = Run(agent=self.agent or ref.workflow_type, run_id=run_id, resume_key=key,
                  correlation=correlation(ref), source=SOURCE,
                  attributes={**self.run_kwargs.get("attributes", {}),
                              **temporal_attributes(ref)},
                  **{k: v for k, v in self.run_kwargs.items() if k != "attributes"})
        run._resumed = False  # a new run: its totals start at zero, not from the database
        try:
            run.begin()
        except RunExists:  # a retried open after the run went on: it is the ledger's already
            return "open"
        except RunStopped as exc:  # a stopped scope: started, ended `stopped`, refused
            self._unwatch(run_id)
            run.flush(ack_timeout())
            return f"run {run_id} refused at start: {exc}"
        self._hand_over(run, "workflow")
        return "open"

    def end(self, end: RunEnd) -> None:
        """Record run.ended: `stopped` when a ledger stop covers the run, whatever the
        workflow made of the cancellation. Ending an ended run is a no-op (a retried end)."""
        run_id = ledger_run_id(end.run.namespace, end.run.workflow_id, end.run.run_id)
        self._unwatch(run_id)
        with self._lock:
            entry = self._open.pop(run_id, None)
        try:
            held = entry.run if entry is not None else None  # an attempt still running here
            run = held if held is not None else self._resume(run_id)
        except RunStopped:  # the resume met the stop: ended `stopped` there
            return
        except LookupError:  # ended already (RunAlreadyEnded), or never opened here
            return
        stop = run.stopped_by or run.writer.live.find(run)
        if stop is not None:
            run.stopped_by = stop
            run.end("stopped", _error(end))
        else:
            run.end(end.status, _error(end))
        run.flush(ack_timeout())

    # -- the activities' side --------------------------------------------------------------
    def join(self, ref: RunOpen) -> Run:
        """The workflow's run for one activity attempt: shared with the other attempts in
        this process, else continued from the ledger's head (`ledger.resume`). Release it."""
        run_id = ledger_run_id(ref.namespace, ref.workflow_id, ref.run_id)
        self._watch(ref)
        with self._lock:
            entry = self._open.get(run_id)
            first = entry is None
            if entry is None:
                entry = self._open[run_id] = _Entry(None, ref)
            entry.users += 1
        if not first:
            entry.ready.wait()
            if entry.run is None:
                raise LedgerUnavailable(f"the ledger run {run_id} could not be continued; "
                                        "the activity was not run")
            return entry.run
        try:
            entry.run = self._resume(run_id)
        except BaseException:
            with self._lock:
                self._open.pop(run_id, None)
            raise
        finally:
            entry.ready.set()
        return entry.run

    def release(self, run: Run) -> None:
        """An activity attempt is done with the run: the last one here hands it over."""
        with self._lock:
            entry = self._open.get(run.run_id)
            if entry is None or entry.run is not run:
                return
            entry.users -= 1
            if entry.users > 0:
                return
            del self._open[run.run_id]
        self._hand_over(run, "activity")

    def _hand_over(self, run: Run, reason: str) -> None:
        """run.suspended, durable before the activity reports: the next writer of the run
        (maybe another process) reads its head from the ledger."""
        if not run.ended:
            run.suspend(reason)
            run.end()
        run.flush(ack_timeout())

    def _resume(self, run_id: uuid.UUID) -> Run:
        """Continue the run from the head read from the ledger (run.resumed)."""
        run = resume(run_id)
        run.begin()
        return run

    def _watch(self, ref: RunOpen) -> None:
        run_id = ledger_run_id(ref.namespace, ref.workflow_id, ref.run_id)
        with self._lock:
            self._watched.setdefault(run_id, ref)

    def _unwatch(self, run_id: uuid.UUID) -> None:
        with self._lock:
            self._watched.pop(run_id, None)

    # -- stops -----------------------------------------------------------------------------
    def stopped_entries(self) -> list[RunOpen]:
        """Workflows of this worker a stop in this process's cache now covers (each once)."""
        with self._lock:
            watched = list(self._watched.items())
        if not watched:
            return []
        live = get_writer().live
        hits = []
        for run_id, ref in watched:
            probe = _Probe(run_id, self.agent, self.run_kwargs, ref)
            if live.find(probe) is not None:  # type: ignore[arg-type]
                self._unwatch(run_id)
                hits.append(ref)
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
            await handle.cancel(reason=reason[:500])  # shown in the workflow's history
        except Exception as exc:  # already closed, or the server away: the stop still holds
            log.info("ledger: cancel of workflow %s: %s", ref.workflow_id, exc)


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
            for ref in self.registry.stopped_entries():
                await self.registry.cancel(ref, "ledger: a stop covers this workflow's run")
            await asyncio.sleep(self.interval)
