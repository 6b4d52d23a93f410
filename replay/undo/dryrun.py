"""Dry run: render every step, probe preconditions read-only, optionally sandbox compensators.

The static dry run changes nothing. The sandbox mode runs the plan's database compensators in
order inside one transaction that is always rolled back, each in its own savepoint (only for
compensators registered with sandbox=True, since an email cannot be unsent), and reports
whether each would have succeeded given the steps before it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from replay.undo.compensators import COMPENSATORS, REACH, SANDBOXABLE
from replay.undo.diagnose import Verdict, verdict_of
from replay.undo.model import ProbeCheck, UndoPlan, UndoStep
from replay.undo.probes import UndoContext, plan_probes, recheck

__all__ = ["DryRunStep", "dry_run", "render_step"]


@dataclasses.dataclass
class DryRunStep:
    """One step as a dry run sees it: would it run now, and what it would do."""

    step_id: str
    group: int
    phase: str
    strategy: str
    tool: str
    op: str | None
    args: Any
    preconditions: list[ProbeCheck]  # with fresh observations
    compensator: str
    sandbox: str
    residue: str | None
    would_run: bool
    notes: list[str]
    verdict: str = ""  # the short word shown first: "would run", "probe error", "drift", ...
    reason: str | None = None  # why it would not run, with the fix (replay.undo.diagnose)

    def as_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["preconditions"] = [c.model_dump(mode="json") for c in self.preconditions]
        return out


def render_step(step: UndoStep) -> str:
    """One human-readable line for a step."""
    target = f"{step.tool} ({step.tool_call_id})"
    action = f"{step.op}({step.args})" if step.op and step.args is not None else "manual"
    flags = []
    if step.drift:
        flags.append("DRIFT")
    if step.downgraded_from:
        flags.append(f"downgraded from {step.downgraded_from}")
    tail = f"  [{', '.join(flags)}]" if flags else ""
    return f"g{step.group} {step.step_id} {step.strategy:<17} {target} -> {action}{tail}"


def _sandbox(step: UndoStep, ctx: UndoContext) -> str:
    fn = COMPENSATORS.get(step.op or "")
    if fn is None or step.op not in SANDBOXABLE or step.args is None:
        return "not sandboxable"
    ctx.step, ctx.idempotency_key, ctx.attempt = step, step.idempotency_key, 0
    try:
        with ctx.conn.transaction():  # a savepoint inside the sandbox transaction
            fn(dict(step.args), ctx)
    except Exception as exc:  # report, never raise: a dry run must finish
        return f"would fail: {type(exc).__name__}: {exc}"
    return "ok (rolled back)"


def dry_run(plan: UndoPlan, ctx: UndoContext, *, sandbox: bool = False) -> list[DryRunStep]:
    """Every step in execution order with fresh read-only probe results."""
    fresh = plan_probes(plan, ctx)
    if not sandbox:
        return _steps(plan, ctx, fresh, sandbox=False)
    with ctx.conn.transaction(force_rollback=True):  # all steps in order, then roll back
        return _steps(plan, ctx, fresh, sandbox=True)


def _verdict(step: UndoStep, checks: list[ProbeCheck], ctx: UndoContext, has_fn: bool) -> Verdict:
    """The step's verdict as the executor would decide it now (approvals aside)."""
    if step.strategy == "contain":
        return Verdict(False, "contain first", "stop the agent, then apply with --contained")
    if step.strategy == "manual":
        return Verdict(False, "manual", "; ".join(step.drift or step.notes) or "manual step")
    probed = verdict_of(checks, target=ctx.target, default_target=ctx.default_target)
    if probed is not None:
        return probed
    if not has_fn:
        return Verdict(False, "no compensator", f"no compensator registered for {step.op!r}")
    reach = REACH.get(step.op or "")
    why = reach(ctx) if reach is not None else None
    if why is not None:  # the mail relay (or other endpoint) is not configured or is down
        return Verdict(False, "unreachable", why)
    return Verdict(True, "would run")


def _steps(
    plan: UndoPlan, ctx: UndoContext, fresh: dict[str, Any], *, sandbox: bool
) -> list[DryRunStep]:
    out: list[DryRunStep] = []
    for step in plan.ordered_steps():
        checks = recheck(step, fresh)
        runnable = step.strategy not in ("manual", "contain") and all(
            c.status == "match" for c in checks
        )
        has_fn = (step.op or "") in COMPENSATORS
        verdict = _verdict(step, checks, ctx, has_fn)
        out.append(
            DryRunStep(
                step_id=step.step_id,
                group=step.group,
                phase=step.phase,
                strategy=step.strategy,
                tool=step.tool,
                op=step.op,
                args=step.args,
                preconditions=checks,
                compensator="registered" if has_fn else ("n/a" if step.op is None else "MISSING"),
                sandbox=_sandbox(step, ctx) if sandbox and runnable else "skipped",
                residue=step.residue,
                would_run=runnable and verdict.runs,
                notes=[*step.drift, *step.notes],
                verdict=verdict.word,
                reason=verdict.reason,
            )
        )
    return out
