"""The activity side of the Temporal integration: each activity attempt is one tool call.

The intent (tool.call.started) is made durable before the activity body runs, and the body
does not run when it cannot be (fail closed: `LedgerUnavailable`, a retryable activity
failure, so Temporal tries again once the ledger is back) or when a ledger stop covers the
run (`RunStopped`, a non-retryable failure; the workflow is cancelled too). The tool call id
is the workflow's activity id, so Temporal's retries of one activity are the attempts of one
tool call (`attempt` = Temporal's attempt number).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from ledger.hooks.errors import LedgerUnavailable, LiveControl, RunStopped
from ledger.hooks.runs import Run
from ledger.hooks.tools import ToolCall, acknowledged
from ledger.integrations.refusals import refusal_text
from ledger.integrations.temporal_runs import SOURCE, RunRegistry
from ledger.integrations.temporal_workflow import STOPPED_TYPE, RunOpen

__all__ = ["LedgerActivityInbound", "tool_call_id"]

log = logging.getLogger("ledger.integrations.temporal")
UNAVAILABLE_TYPE = "LedgerUnavailable"


def tool_call_id(info: activity.Info) -> str:
    """One logical call per activity of a workflow run; its retries share it."""
    return f"temporal:{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


class LedgerActivityInbound(ActivityInboundInterceptor):
    """Records every activity attempt of a workflow as a tool call of the workflow's run."""

    def __init__(self, next: ActivityInboundInterceptor, registry: RunRegistry) -> None:
        super().__init__(next)
        self.registry = registry

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.activity_type.startswith("ledger.temporal.") or not info.workflow_id:
            return await super().execute_activity(input)
        ref = RunOpen(info.workflow_namespace or "default", info.workflow_id,
                      info.workflow_run_id or "", info.workflow_type or "", info.task_queue)
        try:
            run = await asyncio.to_thread(self.registry.join, ref)
        except RunStopped as exc:  # the run was stopped while no activity of it ran
            await self.registry.cancel(ref, str(exc))
            raise ApplicationError(refusal_text(exc), type=STOPPED_TYPE,
                                   non_retryable=True) from None
        except LedgerUnavailable as exc:  # the chain's head cannot be read: fail closed
            raise ApplicationError(f"ledger: {exc}", type=UNAVAILABLE_TYPE) from None
        except LookupError as exc:  # ended (abandoned by `ledger serve`) or not visible
            raise ApplicationError(f"ledger: {exc}; the activity was not run",
                                   type=type(exc).__name__, non_retryable=True) from None
        try:
            call = await self._intent(run, ref, info, input)
            return await self._body(run, call, input)
        finally:
            await asyncio.to_thread(self.registry.release, run)

    async def _intent(self, run: Run, ref: RunOpen, info: activity.Info,
                      input: ExecuteActivityInput) -> ToolCall:
        """Record the intent and wait for its ack; raise the activity's failure instead of
        running the body when the ledger refuses (stop) or cannot keep it (fail closed)."""
        call: ToolCall | None = None
        try:
            call = run.tool_started(
                info.activity_type, list(input.args), tool_call_id=tool_call_id(info),
                wait=True, require_db=True, source=SOURCE, attempt=info.attempt)
            await acknowledged(call)
            return call
        except RunStopped as exc:
            if run.stopped_by is not None:  # the run itself (not only this tool) is stopped
                await self.registry.cancel(ref, str(exc))
            raise ApplicationError(refusal_text(exc), type=STOPPED_TYPE,
                                   non_retryable=True) from None
        except LiveControl as exc:  # denied or held by the pack in force: not run
            raise ApplicationError(refusal_text(exc), type=type(exc).__name__,
                                   non_retryable=True) from None
        except Exception as exc:  # not durable (down, hung, timed out): fail closed
            text = (str(exc) if isinstance(exc, LedgerUnavailable) else
                    f"the intent of activity {info.activity_type!r} was not acknowledged "
                    f"({type(exc).__name__}); the activity was not run")
            if call is not None:  # queued, not acknowledged: its outcome says why
                _end(run, call, status="error", error=LedgerUnavailable(text))
            raise ApplicationError(f"ledger: {text}", type=UNAVAILABLE_TYPE) from None

    async def _body(self, run: Run, call: ToolCall, input: ExecuteActivityInput) -> Any:
        try:
            result = await super().execute_activity(input)
        except asyncio.CancelledError as exc:
            _end(run, call, status="cancelled", error=exc)
            raise
        except BaseException as exc:
            _end(run, call, status="error", error=exc)
            raise
        _end(run, call, result=result)
        return result


def _end(run: Run, call: ToolCall, **kw: Any) -> None:
    """Record the outcome; a recording failure never becomes the activity's failure."""
    try:
        run.tool_ended(call, source=SOURCE, **kw)
    except Exception:
        log.exception("ledger: could not record the outcome of %s", call.tool)
