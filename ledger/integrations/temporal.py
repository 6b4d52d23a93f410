"""Temporal: each activity is a recorded tool call, each workflow run a ledger run.

    from ledger.integrations.temporal import LedgerPlugin

    worker = Worker(client, task_queue="billing", workflows=[Refund], activities=[charge],
                    plugins=[LedgerPlugin(agent="billing")])

What the plugin adds to the worker:
- a workflow interceptor (no IO in the sandbox) that opens the workflow's ledger run with a
  local activity before the workflow code runs and ends it after (`succeeded`, `failed`,
  `cancelled`, or `stopped` when a ledger stop covers it);
- an activity interceptor: the intent of each activity attempt is durable before its body
  runs (fail closed), its outcome after; Temporal's retries are attempts of one tool call;
- a watcher that cancels the worker's workflows a ledger stop covers (`ledger stop RUN_ID`
  or a scope stop), a workflow idle in a timer or a signal wait included.
`LedgerInterceptor` is the same without the plugin (register `interceptor.activities` too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from ledger.integrations import missing_extra

try:
    import temporalio.plugin
    import temporalio.worker
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise missing_extra(__name__, "temporal", e) from None

from ledger.integrations.temporal_activity import LedgerActivityInbound, tool_call_id
from ledger.integrations.temporal_runs import RunRegistry, StopWatcher, ledger_run_id
from ledger.integrations.temporal_workflow import LedgerWorkflowInbound

__all__ = ["LedgerInterceptor", "LedgerPlugin", "ledger_run_id", "tool_call_id"]


class LedgerInterceptor(temporalio.worker.Interceptor):
    """The worker interceptor: activities as tool calls, workflow runs as ledger runs.

    `agent` names the run's agent (default: the workflow type); other keyword arguments are
    `ledger.run(...)`'s (user, roles, tenant, model, attributes, ...), the same for every run
    of this worker.
    """

    def __init__(self, *, agent: str | None = None, **run_kwargs: Any) -> None:
        self.registry = RunRegistry(agent=agent, run_kwargs=run_kwargs)

    @property
    def activities(self) -> list[Callable[..., Any]]:
        """The ledger's two local activities (open and end a run) to add to the worker."""
        return self.registry.activities()

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return LedgerActivityInbound(next, self.registry)

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor] | None:
        return LedgerWorkflowInbound

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Run the stop watcher while the worker runs (the plugin does this)."""
        task = asyncio.create_task(StopWatcher(self.registry).run(), name="ledger-stop-watch")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class LedgerPlugin(temporalio.plugin.SimplePlugin):
    """A worker plugin: the interceptor, its local activities and the stop watcher."""

    def __init__(self, *, agent: str | None = None, **run_kwargs: Any) -> None:
        self.interceptor = LedgerInterceptor(agent=agent, **run_kwargs)
        super().__init__("agent-ledger", interceptors=[self.interceptor],
                         activities=self.interceptor.activities,
                         run_context=self.interceptor.watching)

    def configure_worker(self, config: Any) -> Any:
        """Keep the worker's client: the stop watcher cancels workflows through it."""
        self.interceptor.registry.client = config.get("client")
        return super().configure_worker(config)
