"""The benchmark's workflow (its own module: Temporal's sandbox re-imports it)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def bump(n: int) -> int:
    return n + 1


@workflow.defn
class Steps:
    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for _ in range(steps):
            total = await workflow.execute_activity(bump, total,
                                                    start_to_close_timeout=timedelta(seconds=30))
        return total
