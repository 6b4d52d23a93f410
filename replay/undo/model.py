"""The UndoPlan document: steps, groups, residue, and the digest that approvals sign.

A plan is data, not code: it is written to a file as canonical JSON, reviewed, dry-run,
approved (the approval signs `plan_digest`) and applied. Any edit changes the digest and so
voids the approvals, which is the point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from ledger.canonical import CanonicalError, canonical_bytes, content_hash, loads_strict
from ledger.errors import InputError
from replay.undo.contracts import ApprovalRule

__all__ = [
    "GENERATOR_VERSION",
    "NOT_DIGESTED",
    "PlanFileError",
    "ProbeCheck",
    "ResidueItem",
    "UndoPlan",
    "UndoStep",
    "read_plan",
    "write_plan",
]

GENERATOR_VERSION = "agent-ledger-undo/1"
# Who generated a plan, when and why is provenance, not content: the same incident planned from
# the CLI, the TUI or the demo, by anyone, at any time, must give the same digest (docs/undo.md).
NOT_DIGESTED = frozenset({"created_at", "created_by", "reason"})
Strategy = Literal["contain", "restore_pre_state", "compensate", "mitigate", "manual"]
Phase = Literal["containment", "restore", "notify", "manual"]


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanFileError(InputError, ValueError):
    """A plan file that is unreadable or whose digest does not match its content."""


class ProbeCheck(_M):
    """A read-only precondition: probe(args) must return `expect` for the step to run."""

    probe: str
    args: dict[str, JsonValue] = {}
    expect: JsonValue = None
    key: str
    status: Literal["match", "mismatch", "not_probed", "error"] = "not_probed"
    observed: JsonValue = None


class UndoStep(_M):
    """One compensation (or manual instruction) for one recorded tool call."""

    step_id: str
    target_action_id: str
    run_id: str
    tool_call_id: str
    tool: str
    contract_digest: str | None = None  # None: the tool has no effect contract (a manual step)
    contract_source: str
    effect_class: str
    strategy: Strategy
    phase: Phase
    group: int
    op: str | None = None
    args: dict[str, JsonValue] | None = None
    idempotency_key: str
    resources: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    preconditions: tuple[ProbeCheck, ...] = ()
    window_deadline: str | None = None
    downgraded_from: str | None = None
    drift: tuple[str, ...] = ()
    effectiveness: str = "full"
    residue: str | None = None
    runbook: str | None = None
    human_facing: bool = False
    approvals: ApprovalRule = ApprovalRule()
    max_attempts: int = 3
    original_actor: str | None = None
    notes: tuple[str, ...] = ()


class ResidueItem(_M):
    """What stays changed after the plan: an irreversible or partial effect, and what to do."""

    step_id: str
    tool: str
    target_action_id: str
    residue: str
    runbook: str | None = None


class UndoPlan(_M):
    """An undo plan over a scope (a run, a set of runs or a time window)."""

    plan_id: str
    scope: dict[str, JsonValue]
    generator_version: str = GENERATOR_VERSION
    created_at: str
    created_by: str | None = None
    reason: str | None = None
    steps: tuple[UndoStep, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    residue: tuple[ResidueItem, ...] = ()
    original_actors: tuple[str, ...] = ()
    original_approvers: tuple[str, ...] = ()
    contracts: dict[str, str] = {}
    summary: dict[str, int] = {}

    def summary_text(self) -> str:
        """`summary` as one line a person reads (`ledger undo plan`, the TUI), not a dict:
        "3 side-effecting calls: 2 compensate, 1 manual · 1 drifted"."""
        counts = dict(self.summary)
        calls = counts.pop("side_effecting_calls", len(self.steps))
        flags = [f"{counts.pop(k)} {k}" for k in ("drifted", "downgraded") if k in counts]
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()) if n) or "no steps"
        noun = "call" if calls == 1 else "calls"
        return f"{calls} side-effecting {noun}: {kinds}" + "".join(
            f" · {f}" for f in flags if not f.startswith("0 ")
        )

    def body(self) -> dict[str, Any]:
        """The plan file's content: everything, provenance included."""
        return self.model_dump(mode="json", exclude_none=True)

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the plan's content (the body without provenance):
        what approvals sign."""
        return content_hash(
            self.model_dump(mode="json", exclude_none=True, exclude=set(NOT_DIGESTED))
        )

    def step(self, step_id: str) -> UndoStep:
        return next(s for s in self.steps if s.step_id == step_id)

    def ordered_steps(self) -> list[UndoStep]:
        by_id = {s.step_id: s for s in self.steps}
        return [by_id[i] for group in self.groups for i in group]


def plan_file_bytes(plan: UndoPlan) -> bytes:
    return canonical_bytes({"plan": plan.body(), "plan_digest": plan.digest})


def write_plan(plan: UndoPlan, path: Path) -> str:
    """Write the plan as canonical JSON with its digest; return the digest."""
    path.write_bytes(plan_file_bytes(plan))
    return plan.digest


def read_plan(path: Path) -> UndoPlan:
    """Read a plan file and check that its recorded digest matches its content."""
    try:
        value = loads_strict(path.read_bytes())
    except (OSError, CanonicalError) as exc:
        raise PlanFileError(f"{path}: cannot read plan: {exc}") from None
    if not isinstance(value, dict) or "plan" not in value or "plan_digest" not in value:
        raise PlanFileError(f"{path}: not a plan file (needs 'plan' and 'plan_digest')")
    plan = UndoPlan.model_validate(value["plan"])
    if plan.digest != value["plan_digest"]:
        raise PlanFileError(
            f"{path}: plan digest mismatch (file says {value['plan_digest'][:16]}…, content hashes "
            f"to {plan.digest[:16]}…): the plan was edited; generate a new one"
        )
    return plan
