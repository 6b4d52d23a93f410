"""Workflows and activities written as a user writes them from the Temporal docs.

Imported into Temporal's workflow sandbox: only temporalio and the standard library here.
`BODIES` counts the activity bodies that ran (per process; the worker runs in the test's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

BODIES: list[str] = []
FLAKY_FAILURES = 2  # the flaky activity fails this many attempts, then succeeds


@dataclass
class Refund:
    order_id: str
    amount_usd: int


@activity.defn
async def charge_back(refund: Refund) -> str:
    """The side effect: a refund issued at the payment provider."""
    BODIES.append(f"charge_back:{refund.order_id}")
    return f"refunded {refund.order_id}"


@activity.defn
async def notify(order_id: str) -> str:
    """Fails its first FLAKY_FAILURES attempts (a flaky mail API); Temporal retries it."""
    BODIES.append(f"notify:{order_id}:{activity.info().attempt}")
    if activity.info().attempt <= FLAKY_FAILURES:
        raise ApplicationError(f"mail API 503 (attempt {activity.info().attempt})")
    return f"notified {order_id}"


FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.0,
                         maximum_attempts=5)


@workflow.defn
class RefundWorkflow:
    @workflow.run
    async def run(self, refund: Refund) -> list[str]:
        done = await workflow.execute_activity(
            charge_back, refund, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=FAST_RETRY)
        sent = await workflow.execute_activity(
            notify, refund.order_id, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=FAST_RETRY)
        return [done, sent]


@workflow.defn
class ApprovalWorkflow:
    """Charges, then waits (a human's signal, or a day) before notifying."""

    def __init__(self) -> None:
        self.approved = False

    @workflow.signal
    def approve(self) -> None:
        self.approved = True

    @workflow.run
    async def run(self, refund: Refund) -> str:
        await workflow.execute_activity(charge_back, refund,
                                        start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.approved, timeout=timedelta(days=1))
        return await workflow.execute_activity(notify, refund.order_id,
                                               start_to_close_timeout=timedelta(seconds=30),
                                               retry_policy=FAST_RETRY)


@workflow.defn
class OneCharge:
    """One refund, no retries: what the fail-closed test runs."""

    @workflow.run
    async def run(self, refund: Refund) -> str:
        return await workflow.execute_activity(
            charge_back, refund, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1))


HELD: dict[str, object] = {}  # workflow id -> an asyncio.Event the test sets to release `hold`


@activity.defn
async def hold(order_id: str) -> str:
    """Waits until the test releases it (a long call: a stop lands meanwhile)."""
    BODIES.append(f"hold:{order_id}")
    event = HELD[activity.info().workflow_id]
    await event.wait()  # type: ignore[attr-defined]
    return f"held {order_id}"


@workflow.defn
class HeldRefund:
    """Charges, holds (the stop lands here), then notifies (refused by the stop)."""

    @workflow.run
    async def run(self, refund: Refund) -> str:
        await workflow.execute_activity(charge_back, refund,
                                        start_to_close_timeout=timedelta(seconds=30))
        await workflow.execute_activity(hold, refund.order_id,
                                        start_to_close_timeout=timedelta(seconds=30))
        return await workflow.execute_activity(notify, refund.order_id,
                                               start_to_close_timeout=timedelta(seconds=30),
                                               retry_policy=FAST_RETRY)


@activity.defn
async def whoami(step: int) -> str:
    """Which worker process ran this step (the multi-process test spreads steps out)."""
    import os

    return f"{os.getpid()}:{step}"


@workflow.defn
class Spread:
    """Four steps one after another: any worker process may run any of them."""

    @workflow.run
    async def run(self, steps: int) -> list[str]:
        return [await workflow.execute_activity(whoami, n,
                                                start_to_close_timeout=timedelta(seconds=30))
                for n in range(steps)]
