"""The undo plan the TUI shows, its approval and its application, through replay's services.

The plan comes from `replay.undo.service.plan_for`, the same service as `ledger undo plan` and
the demo, so one incident gets one plan and one digest wherever it is planned. Every database
call goes through `LedgerData.call` (the TUI's one lock). Nothing here imports a write API at
module level: `--readonly` sessions may import this module to plan (a read) and never load the
approval or apply code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui.data import LedgerData

if TYPE_CHECKING:
    from ledger.authority.trust import TrustRoot
    from replay.undo.dryrun import DryRunStep
    from replay.undo.model import UndoPlan
    from replay.undo.parties import Eligible

__all__ = [
    "UndoPreview",
    "contracts_dirs",
    "undo_apply",
    "undo_apply_refusal",
    "undo_approve",
    "undo_approvers",
    "undo_eligible",
    "undo_plan",
]


def contracts_dirs(data: LedgerData) -> list[Path]:
    """Where undo contracts come from: replay.undo.service's one search order."""
    from replay.undo.service import contract_sources

    return contract_sources(data.settings)


@dataclass(frozen=True)
class UndoPreview:
    """A plan for the screen: the plan, its dry-run steps (empty if not dry-run), a note."""

    plan: UndoPlan
    steps: list[DryRunStep]
    note: str


def undo_plan(
    data: LedgerData, run_ids: Sequence[str], now: str | None, created_by: str, dry: bool
) -> UndoPreview:
    """The undo plan of these runs, from the same service as `ledger undo plan` and the demo."""
    from ledger.errors import LedgerError
    from replay.undo.dryrun import dry_run
    from replay.undo.service import plan_for, undo_target

    planned = data.call(
        plan_for,
        data.settings,
        [uuid.UUID(r) for r in run_ids],
        now=now,
        created_by=created_by,
        reason="ledger tui",
    )
    note = f"plan generated ({planned.probes_run} read-only probe(s))"
    steps: list[DryRunStep] = []
    if dry:
        try:
            target = undo_target(data.settings)
            try:
                steps = dry_run(planned.plan, target)
            finally:
                target.conn.close()
            note = "dry run complete (read-only probes)"
        except LedgerError as exc:  # an unreachable target: the service's line, with its fix
            note = f"dry run could not probe: {exc}"
        except Exception as exc:  # a dry run reports, it never breaks the screen
            note = f"dry run could not probe: {type(exc).__name__}: {exc}"
    return UndoPreview(planned.plan, steps, note)


def undo_approvers(data: LedgerData, plan: UndoPlan) -> tuple[str, ...]:
    """Who has recorded an approval of this plan digest (any terminal, any person), as recorded:
    what a second operator looks at before approving. Judging them is apply's job."""
    from replay.undo.pending import recorded_approvers

    return data.call(recorded_approvers, data.settings, plan.digest)


def undo_eligible(data: LedgerData, plan: UndoPlan, root: TrustRoot | None) -> Eligible:
    """Who may approve this plan: the judgement `ledger undo approve` applies (registry undo
    grants for every step's tool, an approver key, separation of duties), from replay.undo."""
    from replay.undo.parties import eligible_approvers

    return data.call(eligible_approvers, data.settings, plan, root)


def undo_approve(
    data: LedgerData, plan: UndoPlan, approver: str, root: TrustRoot | None = None
) -> str:
    """Sign the plan digest as `approver`, judged by the registry under `root` (replay.undo
    .approvals: registered approver, undo grants, SoD; no trust root or registry: refused)."""
    from replay.undo.approvals import approve

    data.call(approve, data.settings, plan, approver, root=root)
    return f"approved plan {plan.digest[:16]} as {approver} (undo.plan.approved recorded)"


def undo_apply_refusal(
    data: LedgerData, plan: UndoPlan, operator: str, root: TrustRoot | None
) -> str | None:
    """Why `undo_apply` would be refused now (replay.undo.executor.apply_refusal: the same
    line apply gives), None when it would run: asked before the typed APPLY."""
    from replay.undo.executor import apply_refusal

    return data.call(apply_refusal, data.settings, plan, root=root, operator=operator)


def undo_apply(
    data: LedgerData, plan: UndoPlan, operator: str, root: TrustRoot | None = None
) -> str:
    """Apply an approved plan with the registered compensators; one line per step outcome.
    Approvals are re-judged from the ledger under `root`; the operator's own never counts."""
    from replay.undo.executor import apply_plan
    from replay.undo.service import load_plugins, undo_target

    load_plugins()  # the compensators of the demo tools, as `ledger undo apply` loads them
    target = undo_target(data.settings)
    try:
        report = data.call(
            apply_plan, data.settings, plan, target, root=root, operator=operator
        )
    finally:
        target.conn.close()
    return "\n".join(report.lines())  # the same text as `ledger undo apply`
