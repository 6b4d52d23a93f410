"""The result of one rule on one run: pass, fail or unknown, with evidence (DESIGN §7)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

__all__ = ["Outcome", "Verdict"]

Outcome = Literal["pass", "fail", "unknown"]


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """`explanation` is one line; `evidence` lists the event ids a reviewer should open."""

    rule_id: str
    outcome: Outcome
    explanation: str
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form used by `ledger check --json` and the verdicts table."""
        return {
            "rule_id": self.rule_id,
            "outcome": self.outcome,
            "explanation": self.explanation,
            "evidence": list(self.evidence),
        }
