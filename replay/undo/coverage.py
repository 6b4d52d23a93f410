"""Undo coverage: the share of side-effecting tool calls that have a working compensator.

A call counts as covered when the contract in force declares a compensation op *and* a
compensator for that op is registered in this process. Undeclared tools count as
side-effecting when the hook flagged them so (`side_effect: true`); a declared read_only
contract removes a call from the population.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.events import EventBase
from replay.undo.actions import collect_actions
from replay.undo.contracts import ContractRegistry

__all__ = ["CoverageReport", "ToolCoverage", "coverage"]


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCoverage:
    """One tool's side-effecting calls, how many have a working compensator, and why not."""

    calls: int
    covered: int
    reason: str | None = None  # set when some calls are not covered

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"calls": self.calls, "covered": self.covered}
        return {**out, "reason": self.reason} if self.reason is not None else out


@dataclasses.dataclass
class CoverageReport:
    side_effecting_calls: int
    covered_calls: int
    by_tool: dict[str, ToolCoverage]

    @property
    def share(self) -> float:
        return self.covered_calls / self.side_effecting_calls if self.side_effecting_calls else 1.0

    @property
    def lacking(self) -> list[str]:
        """Tools with at least one side-effecting call and no working compensator."""
        return sorted(t for t, row in self.by_tool.items() if row.covered < row.calls)

    def as_json(self) -> dict[str, Any]:
        return {
            "side_effecting_calls": self.side_effecting_calls,
            "covered_calls": self.covered_calls,
            "share": round(self.share, 6),
            "tools_lacking_compensator": self.lacking,
            "by_tool": {t: row.as_json() for t, row in self.by_tool.items()},
        }


def coverage(
    events: Iterable[EventBase], registry: ContractRegistry, compensators: Mapping[str, Any]
) -> CoverageReport:
    """Coverage over the tool calls among `events`."""
    calls: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    reason: dict[str, str] = {}
    for action in collect_actions(events, registry):
        declared = action.how != "undeclared"
        flagged = bool(action.started.data.side_effect)
        if (declared and action.contract.effect_class == "read_only") or (
            not declared and not flagged
        ):
            continue
        calls[action.tool] += 1
        comp = action.contract.compensation
        if not declared:
            reason[action.tool] = "no effect contract"
        elif action.how == "recorded digest not found":
            reason[action.tool] = "recorded contract digest is not in the registry"
        elif comp is None:
            reason[action.tool] = f"{action.contract.effect_class}: no compensation declared"
        elif comp.op not in compensators:
            reason[action.tool] = f"compensation {comp.op} declared but no compensator registered"
        else:
            covered[action.tool] += 1
    by_tool = {
        t: ToolCoverage(n, covered[t], reason[t] if covered[t] < n else None)
        for t, n in sorted(calls.items())
    }
    return CoverageReport(sum(calls.values()), sum(covered.values()), by_tool)
