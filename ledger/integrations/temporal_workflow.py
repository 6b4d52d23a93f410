"""The workflow side of the Temporal integration: one ledger run per workflow run.

Workflow code runs in Temporal's deterministic sandbox and is replayed from history, so this
module does no IO at all: it brackets the workflow with two local activities (ledger's own,
run outside the sandbox by the worker) that open and end the run. Their results are kept in
the workflow's history as markers, so a replay never records a run twice.

Only `temporalio.workflow` and the standard library are imported here (the sandbox passes
temporalio through; nothing of ledger is imported inside it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, CancelledError, FailureError
from temporalio.worker import ExecuteWorkflowInput, WorkflowInboundInterceptor

__all__ = ["END_ACTIVITY", "OPEN_ACTIVITY", "LedgerWorkflowInbound", "RunEnd", "RunOpen"]

OPEN_ACTIVITY = "ledger.temporal.open_run"
END_ACTIVITY = "ledger.temporal.end_run"
STOPPED_TYPE = "RunStopped"  # the ApplicationError type of a refusal by a ledger stop
_LOCAL_TIMEOUT = timedelta(seconds=60)
# bounded: a ledger that cannot open or end a run must not spin the workflow task forever
_LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)


@dataclass(frozen=True)
class RunOpen:
    """What the open local activity needs to name the run (all from `workflow.info()`)."""

    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    attempt: int = 1


@dataclass(frozen=True)
class RunEnd:
    """How the workflow finished, for run.ended (`succeeded`, `failed`, `cancelled`)."""

    run: RunOpen
    status: str
    error: str | None = None
    error_type: str | None = None


class LedgerWorkflowInbound(WorkflowInboundInterceptor):
    """Opens the workflow's ledger run before its code runs and ends it after (local
    activities). A workflow task failure (a bug in workflow code, retried by Temporal) is not
    an end: only a completion, a workflow failure or a cancellation are."""

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        info = workflow.info()
        ref = RunOpen(info.namespace, info.workflow_id, info.run_id, info.workflow_type,
                      info.task_queue, info.attempt)
        opened = await workflow.execute_local_activity(
            OPEN_ACTIVITY, ref, start_to_close_timeout=_LOCAL_TIMEOUT, retry_policy=_LOCAL_RETRY)
        if opened != "open":  # a stop covered the run at its start: recorded and ended
            raise ApplicationError(f"ledger: {opened}", type=STOPPED_TYPE, non_retryable=True)
        try:
            result = await super().execute_workflow(input)
        except asyncio.CancelledError as exc:
            await self._end(RunEnd(ref, "cancelled", str(exc) or "cancelled", "CancelledError"))
            raise
        except FailureError as exc:
            if isinstance(exc.cause, CancelledError):  # cancelled while awaiting an activity
                await self._end(RunEnd(ref, "cancelled", str(exc), "CancelledError"))
            else:
                await self._end(RunEnd(ref, "failed", str(exc), _failure_type(exc)))
            raise
        except workflow.ContinueAsNewError:
            await self._end(RunEnd(ref, "succeeded"))
            raise
        await self._end(RunEnd(ref, "succeeded"))
        return result

    async def _end(self, end: RunEnd) -> None:
        """End the run; if the ledger cannot (down), the workflow's own outcome stands and
        the run stays suspended until `ledger serve` ends it `abandoned`."""
        try:
            await workflow.execute_local_activity(END_ACTIVITY, end,
                                                  start_to_close_timeout=_LOCAL_TIMEOUT,
                                                  retry_policy=_LOCAL_RETRY)
        except FailureError as exc:  # ActivityError, or the local activity's own error
            workflow.logger.warning("ledger: the run of this workflow was not ended: %s", exc)


def _failure_type(exc: FailureError) -> str:
    """The failure's own type name (an ApplicationError's `type`, e.g. RunStopped)."""
    if isinstance(exc, ApplicationError) and exc.type:
        return exc.type
    cause = exc.__cause__
    if isinstance(cause, ApplicationError) and cause.type:
        return cause.type
    return type(exc).__name__
