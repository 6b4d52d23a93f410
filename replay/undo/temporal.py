"""Undo compensators as Temporal activities: an approved undo plan applied by a worker.

A team that runs its agents on Temporal wants the repair to be durable too: retried on a
worker crash, visible in the workflow history, cancellable. `UndoActivities` exposes the
existing executor (`replay.undo.executor.apply_plan`) as one activity, so everything the
executor guarantees holds unchanged: approvals judged from the ledger (four eyes), each step
at most once per idempotency key, preconditions re-probed before each step, every attempt
bracketed by undo.step.started / undo.step.ended in the ledger. Because the executor is
idempotent, Temporal may retry the activity freely: a retry after a crash runs only the steps
not yet recorded as done.

The plan travels as its canonical JSON plus digest (what `ledger undo plan --out` writes) and
is checked against the digest before anything runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

try:
    from temporalio import activity, workflow
    from temporalio.common import RetryPolicy
except ImportError:  # pragma: no cover - exercised without the extra
    raise ImportError("replay.undo.temporal needs temporalio: "
                      "pip install 'agent-ledger[temporal]'") from None

__all__ = ["APPLY_ACTIVITY", "UndoActivities", "UndoRequest", "UndoWorkflow"]

APPLY_ACTIVITY = "ledger.undo.apply_plan"


@dataclasses.dataclass(frozen=True)
class UndoRequest:
    """An approved plan to apply: its JSON (`UndoPlan.model_dump(mode="json")`) and digest,
    the operator applying it, and whether the agent was confirmed contained."""

    plan: dict[str, Any]
    plan_digest: str
    operator: str
    contained: bool = False


class UndoActivities:
    """The apply activity, bound to this worker's ledger settings, trust root and target.

    `target()` opens the undo target (an `UndoContext`: the repaired system's connection and
    endpoints) for one apply; `root` judges the approvals (None refuses, as the CLI does)."""

    def __init__(self, settings: Any, root: Any, target: Callable[[], Any]) -> None:
        self.settings = settings
        self.root = root
        self.target = target

    @property
    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name=APPLY_ACTIVITY)
        def apply_plan(request: UndoRequest) -> dict[str, Any]:  # a sync activity: DB work
            return self.apply(request)

        return [apply_plan]

    def apply(self, request: UndoRequest) -> dict[str, Any]:
        """Apply the plan through the executor; the report as JSON (the activity's result)."""
        from ledger.db.connect import connect
        from replay.undo.executor import apply_plan
        from replay.undo.model import PlanFileError, UndoPlan

        plan = UndoPlan.model_validate(request.plan)
        if plan.digest != request.plan_digest:
            raise PlanFileError(f"plan digest mismatch ({request.plan_digest[:16]}…): the plan "
                                "was edited; generate and approve a new one")
        ctx = self.target()
        with connect(self.settings) as conn:
            report = apply_plan(conn, self.settings, plan, ctx, root=self.root,
                                operator=request.operator, contained=request.contained)
        return report.as_json()


@workflow.defn(name="ledger.undo")
class UndoWorkflow:
    """Apply one approved plan as a workflow (retried, visible, cancellable)."""

    @workflow.run
    async def run(self, request: UndoRequest) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            APPLY_ACTIVITY, request, start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=3))
        return result
