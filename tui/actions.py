"""The undo plan the TUI asks replay for, and its approval and application.

Why these stay here for now: they belong to the replay layer, whose `plan_for` service replaces
them (so the CLI, the TUI and the demo get the same plan and digest). The TUI's other writes
(annotations, stops, exercise seeding) go through `ledger.operator` and the write door in
tui.writer. Nothing here imports a write API at module level: `--readonly` sessions may import
this module to plan (a read) and never load the approval or apply code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui.data import LedgerData

__all__ = ["contracts_dirs", "undo_apply", "undo_approve", "undo_plan"]


def contracts_dirs(data: LedgerData) -> list[Path]:
    """Where undo contracts come from: $LEDGER_CONTRACTS, <home>/contracts, or the examples."""
    env = os.environ.get("LEDGER_CONTRACTS")
    if env:
        return [Path(p) for p in env.split(os.pathsep)]
    home = data.settings.home / "contracts"
    if home.is_dir():
        return [home]
    from replay.undo import examples

    return [Path(examples.__file__).parent / "contracts"]


def undo_plan(
    data: LedgerData, docs: Sequence[dict[str, Any]], now: str, created_by: str, dry: bool
) -> tuple[Any, list[Any], str]:
    """(plan, dry-run steps, note) from replay.undo for the given run documents."""
    from ledger.events import decode_event
    from replay.undo import generate_plan, load_contracts

    registry = load_contracts(contracts_dirs(data))
    events = [decode_event(d) for d in docs]
    run_id = str(events[0].run_id) if events else ""
    plan = generate_plan(
        events,
        registry,
        now=now,
        scope={"run_id": run_id},
        created_by=created_by,
        reason="ledger tui",
    )
    steps: list[Any] = []
    note = "plan generated (probes not run)"
    if dry:
        from replay.undo.dryrun import dry_run
        from replay.undo.probes import UndoContext

        try:
            with data._lock:
                steps = dry_run(plan, UndoContext(data.conn()))
            note = "dry run complete (read-only probes)"
        except Exception as exc:  # a dry run reports, it never breaks the screen
            note = f"dry run could not probe: {type(exc).__name__}: {exc}"
    return plan, steps, note


def undo_approve(data: LedgerData, plan: Any, approver: str) -> str:
    """Sign the plan digest as `approver` (replay.undo.approvals; SoD enforced there)."""
    from replay.undo.approvals import approve

    with data._lock:
        approve(data.conn(), data.settings, plan, approver)
    return f"approved plan {plan.digest[:16]} as {approver} (undo.plan.approved recorded)"


def undo_apply(data: LedgerData, plan: Any, operator: str) -> str:
    """Apply an approved plan with the registered compensators; one line per step outcome."""
    import replay.undo.examples.demo  # noqa: F401 - registers the demo tools' compensators
    from replay.undo.executor import apply_plan
    from replay.undo.probes import UndoContext

    with data._lock:
        conn = data.conn()
        report = apply_plan(conn, data.settings, plan, UndoContext(conn), operator=operator)
    lines = [f"apply {report.status} (undo run {report.undo_run_id})"]
    lines += [
        f"  {s.step_id} {s.status} attempts={s.attempts}" + (f" — {s.error}" if s.error else "")
        for s in report.steps
    ]
    return "\n".join(lines)
