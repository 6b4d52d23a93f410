"""What-if: compare one run's verdicts under two packs (what would policy vN have caught?)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from replay.policy.verdict import Verdict

__all__ = ["VerdictDiff", "diff_verdicts"]


@dataclasses.dataclass(frozen=True, slots=True)
class VerdictDiff:
    """Rule ids grouped by how their outcome moved from the current pack to the other one."""

    newly_failing: tuple[str, ...]
    newly_passing: tuple[str, ...]
    changed: tuple[tuple[str, str, str], ...]  # (rule id, before, after), any outcome change

    @property
    def empty(self) -> bool:
        return not self.changed

    def to_json(self) -> dict[str, Any]:
        return {
            "newly_failing": list(self.newly_failing),
            "newly_passing": list(self.newly_passing),
            "changed": [{"rule_id": r, "before": b, "after": a} for r, b, a in self.changed],
        }


def diff_verdicts(before: Sequence[Verdict], after: Sequence[Verdict]) -> VerdictDiff:
    """A rule missing from one side counts as "absent" (a new or dropped rule)."""
    old = {v.rule_id: v.outcome for v in before}
    new = {v.rule_id: v.outcome for v in after}
    ids = list(old) + [r for r in new if r not in old]
    changed = tuple(
        (r, old.get(r, "absent"), new.get(r, "absent"))
        for r in ids
        if old.get(r, "absent") != new.get(r, "absent")
    )
    return VerdictDiff(
        newly_failing=tuple(r for r, b, a in changed if a == "fail"),
        newly_passing=tuple(r for r, b, a in changed if b == "fail" and a != "fail"),
        changed=changed,
    )
