"""Apply an approved plan through registered compensator functions (a small saga executor).

Each step succeeds at most once per idempotency key (stable per compensated action and
operation, so even a regenerated plan cannot compensate the same action twice), with bounded
retries. Every attempt is bracketed by undo.step.started / undo.step.ended events that name the
action they compensate. A compensation that keeps failing ends in `compensation_failed`: steps
that depend on it are not run, and the next apply runs it again under the same idempotency key
(the compensator hands the key to the target, so one that landed is not done twice) while
skipping every step that succeeded. Preconditions are probed again right before each step:
drift since approval, or a probe that cannot read the target, makes the step `needs_operator`
with the reason and its fix (replay.undo.diagnose). Four eyes:
the operator who applies never counts as an approver of their own apply. Approvals are re-judged
here from the ledger (replay.undo.approvals.approvals_for): without a trust root or a registry
in force nothing is applied.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import psycopg

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.identity import normalise_principal
from ledger.store import undo as store
from ledger.store.undo import StepRow, StepState
from replay.undo.approvals import Approval, Judged, approvals_for, step_approved
from replay.undo.compensators import (
    COMPENSATORS,
    SANDBOXABLE,
    CompensatorFn,
    TransientError,
    compensator,
)
from replay.undo.diagnose import verdict_of
from replay.undo.model import UndoPlan, UndoStep
from replay.undo.probes import UndoContext, recheck, run_probes
from replay.undo.record import UndoRun, record_plan

__all__ = [
    "COMPENSATORS",
    "SANDBOXABLE",
    "ApplyReport",
    "NotApproved",
    "StepOutcome",
    "TransientError",
    "apply_plan",
    "apply_refusal",
    "compensator",
]

TERMINAL_BAD = frozenset({"compensation_failed", "needs_operator", "blocked"})
SUCCEEDED = frozenset({"compensated", "contained"})  # done: never run again


class NotApproved(LedgerError):
    """Apply refused: the plan lacks the approvals (or containment) its steps need."""


@dataclasses.dataclass
class StepOutcome:
    step_id: str
    status: str
    attempts: int = 0
    error: str | None = None
    skipped: bool = False
    result: Any = None


@dataclasses.dataclass
class ApplyReport:
    plan_digest: str
    status: str
    steps: list[StepOutcome]
    undo_run_id: uuid.UUID | None

    def lines(self) -> list[str]:
        """The report as text, the same in `ledger undo apply` and the TUI: a status line, then
        one line per step (a step skipped because it succeeded in an earlier apply says so)."""
        run = f" (undo run {self.undo_run_id})" if self.undo_run_id else " (nothing new run)"
        out = [f"apply {self.status}: plan {self.plan_digest[:16]}…{run}"]
        for s in self.steps:
            earlier = s.skipped and s.status in SUCCEEDED
            done = " (succeeded earlier: not run again)" if earlier else ""
            out.append(
                f"  {s.step_id} {s.status} attempts={s.attempts}{done}"
                + (f" — {s.error}" if s.error else "")
            )
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "plan_digest": self.plan_digest,
            "status": self.status,
            "undo_run_id": str(self.undo_run_id) if self.undo_run_id else None,
            "steps": [dataclasses.asdict(s) for s in self.steps],
        }


def _data(plan: UndoPlan, step: UndoStep, status: str, **details: Any) -> dict[str, Any]:
    return {
        "plan_digest": plan.digest,
        "step_id": step.step_id,
        "compensates": step.target_action_id if step.strategy != "contain" else None,
        "tool_call_id": step.tool_call_id,
        "operation": step.op,
        "status": status,
        "details": {k: v for k, v in details.items() if v is not None},
    }


def _run_compensator(
    fn: CompensatorFn, step: UndoStep, ctx: UndoContext
) -> tuple[bool, int, str | None, Any]:
    error: str | None = None
    for attempt in range(1, step.max_attempts + 1):
        ctx.attempt, ctx.step, ctx.idempotency_key = attempt, step, step.idempotency_key
        try:
            with ctx.conn.transaction():
                result = fn(dict(step.args or {}), ctx)
            return True, attempt, None, result
        except Exception as exc:  # any failure counts as one attempt; bounded by max_attempts
            error = f"{type(exc).__name__}: {exc}"
    return False, step.max_attempts, error, None


def _others_approvals(judged: Judged, plan: UndoPlan, operator: str | None) -> list[Approval]:
    """The approvals that count for this operator: four eyes means the one who applies never
    counts towards their own apply, so a plan approved only by its operator is refused."""
    approvals = judged.valid
    if not approvals:
        why = f" ({judged.refused[-1]})" if judged.refused else ""
        raise NotApproved(
            f"plan {plan.digest[:16]}… has no valid approval{why}: run `ledger undo approve`"
        )
    me = normalise_principal(operator) if operator else None
    others = [a for a in approvals if normalise_principal(a.approver) != me]
    if not others:
        raise NotApproved(
            f"four eyes: {operator} is the only approver of plan {plan.digest[:16]}… and may not "
            "apply it; another person must approve or apply"
        )
    return others


def _gate(  # noqa: PLR0917 - private: apply_plan and apply_refusal
    conn: psycopg.Connection,
    settings: Settings,
    plan: UndoPlan,
    root: TrustRoot | None,
    operator: str | None,
    contained: bool,
) -> list[Approval]:
    """The approvals an apply runs on, or the one-line refusal (no authority, not approved,
    four eyes, containment first)."""
    judged = approvals_for(conn, settings, plan, root)
    approvals = _others_approvals(judged, plan, operator)
    if any(s.strategy == "contain" for s in plan.steps) and not contained:
        raise NotApproved(
            "the plan starts with containment (a run is still live): stop the agent, "
            "then apply with --contained"
        )
    return approvals


def apply_refusal(
    conn: psycopg.Connection,
    settings: Settings,
    plan: UndoPlan,
    *,
    root: TrustRoot | None,
    operator: str | None,
    contained: bool = False,
) -> str | None:
    """Why `apply_plan` would refuse now, in its own words (None: it would run). The TUI asks
    before the typed APPLY, so nobody confirms an apply that is certainly refused (INCIDENT18
    #8); apply_plan still judges again when it runs."""
    try:
        _gate(conn, settings, plan, root, operator, contained)
    except LedgerError as exc:
        return str(exc)
    return None


def apply_plan(
    ledger_conn: psycopg.Connection,
    settings: Settings,
    plan: UndoPlan,
    ctx: UndoContext,
    *,
    root: TrustRoot | None,
    operator: str | None = None,
    contained: bool = False,
) -> ApplyReport:
    """Execute every runnable step of an approved plan; safe to call again (does nothing new).

    `root` is the trust root the approvals are judged by; None refuses (NoAuthority)."""
    approvals = _gate(ledger_conn, settings, plan, root, operator, contained)
    record_plan(ledger_conn, settings, plan, plan.created_by)
    with store.plan_lock(ledger_conn, plan.digest):
        return _apply_locked(ledger_conn, settings, plan, ctx, operator, approvals)


@dataclasses.dataclass
class _Apply:
    """One apply in progress: what every step decision needs."""

    plan: UndoPlan
    ctx: UndoContext
    run: UndoRun
    conn: psycopg.Connection
    known: dict[str, StepState]  # stored states by idempotency key, from earlier applies
    fresh: dict[str, Any]  # probe results taken right before the first step
    approvals: list[Approval]
    outcomes: dict[str, StepOutcome] = dataclasses.field(default_factory=dict)

    def save(
        self, step: UndoStep, status: str, attempts: int, error: str | None, result: Any
    ) -> None:
        row = StepRow(
            step.idempotency_key,
            self.plan.digest,
            step.step_id,
            step.target_action_id,
            status,
            attempts,
            error,
            result,
        )
        store.save_step(self.conn, row)


def _apply_locked(  # noqa: PLR0917 - private, called once
    ledger_conn: psycopg.Connection,
    settings: Settings,
    plan: UndoPlan,
    ctx: UndoContext,
    operator: str | None,
    approvals: list[Approval],
) -> ApplyReport:
    steps = plan.ordered_steps()
    known = store.step_states(ledger_conn, [s.idempotency_key for s in steps])
    run = UndoRun(ledger_conn, settings, operator)
    fresh = run_probes((c for s in steps for c in s.preconditions), ctx)
    state = _Apply(plan, ctx, run, ledger_conn, known, fresh, approvals)
    try:
        for step in steps:
            state.outcomes[step.step_id] = _one(state, step)
    finally:
        run.finish()
    states = [o.status for o in state.outcomes.values()]
    if all(s in ("compensated", "contained") for s in states):
        status = "done"
    elif any(s == "compensation_failed" for s in states):
        status = "failed"
    else:
        status = "partial"
    return ApplyReport(
        plan.digest, status, list(state.outcomes.values()), run.run_id if run.seq else None
    )


def _blocked(state: _Apply, step: UndoStep) -> str | None:
    """Why the step must wait for an operator instead of running now (None: it may run)."""
    if step.strategy == "manual":
        return "; ".join(step.drift or step.notes) or "manual step"
    if not step_approved(step, state.approvals):
        rule = step.approvals
        return f"needs {rule.min_approvers} approver(s) with roles {list(rule.roles)}"
    outcomes = state.outcomes
    bad = [d for d in step.depends_on if outcomes.get(d) and outcomes[d].status in TERMINAL_BAD]
    if bad:
        return f"blocked: depends on unresolved step(s) {', '.join(bad)}"
    ctx = state.ctx
    probed = verdict_of(
        recheck(step, state.fresh), target=ctx.target, default_target=ctx.default_target
    )
    if probed is not None:  # a probe error names the target and its fix; drift says re-plan
        return probed.reason
    if step.op not in COMPENSATORS:
        return f"no compensator registered for {step.op!r}"
    return None


def _settle(state: _Apply, step: UndoStep, status: str, reason: str) -> StepOutcome:
    """Record a step that ends without running (contained, or waiting for an operator)."""
    prior = state.known.get(step.idempotency_key)
    if prior is not None and prior.status == status and prior.error == reason:
        return StepOutcome(step.step_id, status, 0, reason, skipped=True)
    state.run.emit("undo.step.ended", _data(state.plan, step, status, reason=reason))
    state.save(step, status, 0, reason, None)
    return StepOutcome(step.step_id, status, 0, reason)


def _one(state: _Apply, step: UndoStep) -> StepOutcome:
    """Decide, and if allowed run, one step. Only a step that succeeded in an earlier apply is
    skipped: a failed one (`compensation_failed`, or `running` when an apply died mid-step) runs
    again under the same idempotency key, so a compensation that did land remotely the first
    time is recognised by the target instead of being done twice."""
    prior = state.known.get(step.idempotency_key)
    if prior is not None and prior.status in SUCCEEDED:
        return StepOutcome(step.step_id, prior.status, prior.attempts, prior.error, skipped=True)
    if step.strategy == "contain":
        return _settle(state, step, "contained", "operator confirmed containment (--contained)")
    reason = _blocked(state, step)
    if reason is not None:
        return _settle(state, step, "needs_operator", reason)
    return _execute(state, step, COMPENSATORS[step.op or ""])


def _execute(state: _Apply, step: UndoStep, fn: CompensatorFn) -> StepOutcome:
    """Run the compensator between undo.step.started and undo.step.ended (intent first)."""
    plan, key = state.plan, step.idempotency_key
    state.run.emit(
        "undo.step.started",
        _data(plan, step, "started", idempotency_key=key, args=step.args),
    )
    state.save(step, "running", 0, None, None)
    ok, attempts, error, result = _run_compensator(fn, step, state.ctx)
    status = "compensated" if ok else "compensation_failed"
    details = {"attempts": attempts, "error": error, "residue": step.residue}
    state.run.emit("undo.step.ended", _data(plan, step, status, idempotency_key=key, **details))
    state.save(step, status, attempts, error, result)
    return StepOutcome(step.step_id, status, attempts, error, result=result)
