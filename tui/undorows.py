"""The Undo tab's rows: the verdict first, the wide facts in a detail text per step.

Why a layout of its own: the old table put eight columns side by side with the dry-run verdict
last, which at 80 columns sat off screen with no horizontal scroll. Now each row is verdict,
step, tool, effect, strategy, approvals (narrow), and everything wide (why it would not run
with its fix, window, eligible approvers, preconditions, notes) is a wrapped detail shown for
the highlighted step. Eligible approvers are replay.undo.parties' judgement, the one `ledger undo
approve` applies (registry undo grants, approver key, separation of duties). The verdict and
its reason come from the dry run (replay.undo.dryrun, worded by replay.undo.diagnose), the
same text `ledger undo dry-run` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

from tui.literal import literal

if TYPE_CHECKING:
    from replay.undo.dryrun import DryRunStep
    from replay.undo.model import UndoPlan, UndoStep
    from replay.undo.parties import Eligible

__all__ = ["UNDO_COLUMNS", "UndoRow", "undo_rows"]

UNDO_COLUMNS = ("verdict", "step", "tool", "effect", "strategy", "approvals")
EFFECT_STYLE = {
    "reversible": "green",
    "compensable": "cyan",
    "mitigable": "yellow",
    "irreversible": "bold red",
}
_VERDICT_STYLE = {"would run": "bold green", "planned": "dim"}


@dataclass(frozen=True)
class UndoRow:
    """One step as the Undo tab shows it: table cells and the detail text."""

    step_id: str
    cells: tuple[Text, ...]
    detail: Text


def _verdict(step: UndoStep, dry: DryRunStep | None) -> tuple[str, str | None]:
    """The short verdict and its reason: the dry run's, else what the plan alone says."""
    if dry is not None:
        return dry.verdict or ("would run" if dry.would_run else "will not run"), dry.reason
    if step.strategy in ("manual", "contain"):
        return step.strategy, "; ".join(step.drift or step.notes) or None
    return "planned", "y: dry run to probe the target now"


def _eligible(step: UndoStep, eligible: Eligible | None) -> str:
    """Who `ledger undo approve` would accept for this step (the registry's judgement, minus the
    run's actors), or why nobody can be judged: never merely everyone the log has seen."""
    if eligible is None:
        return "-"
    if not eligible.judged:
        return f"asserted (no registry): {eligible.note}"
    names = eligible.names(tuple(step.approvals.roles))
    return f"{', '.join(names) or 'nobody'} ({eligible.note})"


def _detail(step: UndoStep, dry: DryRunStep | None, eligible: Eligible | None) -> Text:
    verdict, reason = _verdict(step, dry)
    checks = dry.preconditions if dry is not None else step.preconditions
    rule = step.approvals
    out = Text()
    out.append_text(literal(f"{step.step_id} {step.tool}", style="bold"))
    out.append(" · ")
    out.append_text(literal(step.effect_class, style=EFFECT_STYLE.get(step.effect_class, "")))
    out.append("\nverdict   ", style="dim")
    out.append(verdict, style=_VERDICT_STYLE.get(verdict, "bold yellow"))
    if reason:  # recorded text (tool names, probe output): drawn literally
        out.append_text(literal(f": {reason}"))
    facts = (
        ("strategy", step.strategy + (f" (was {was})" if (was := step.downgraded_from) else "")),
        ("window", step.window_deadline or "-"),
        ("approvals", f"{rule.min_approvers}x {', '.join(rule.roles) or 'any role'}"),
        ("eligible", _eligible(step, eligible)),
        ("checks", ", ".join(f"{c.probe}={c.status}" for c in checks) or "none"),
    )
    for name, value in facts:
        out.append(f"\n{name:<10}", style="dim")
        out.append_text(literal(value))
    for note in (*step.drift, *step.notes):
        out.append("\nnote      ", style="dim")
        out.append_text(literal(note))
    return out


def undo_rows(
    plan: UndoPlan, steps: Sequence[DryRunStep], eligible: Eligible | None
) -> list[UndoRow]:
    """The plan's steps in execution order, each with its dry-run verdict when there is one."""
    dry = {s.step_id: s for s in steps}
    rows: list[UndoRow] = []
    for step in plan.ordered_steps():
        verdict, _ = _verdict(step, dry.get(step.step_id))
        rule = step.approvals
        cells = (  # tool names and ids come from recorded events: literal text
            Text(verdict, style=_VERDICT_STYLE.get(verdict, "bold yellow")),
            literal(step.step_id),
            literal(step.tool),
            literal(step.effect_class, style=EFFECT_STYLE.get(step.effect_class, "")),
            literal(step.strategy),
            literal(f"{rule.min_approvers}x {','.join(rule.roles) or 'any'}"),
        )
        rows.append(UndoRow(step.step_id, cells, _detail(step, dry.get(step.step_id), eligible)))
    return rows
