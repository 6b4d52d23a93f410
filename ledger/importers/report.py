"""The reconciliation report every import ends with: one outcome per source record.

Why a report and not a count: an import that silently drops records (or reads an empty window
because a filter or an export job went wrong, as Langfuse blob exports have done) looks like a
successful import of nothing. Here each record seen ends `imported`, `already present` or
`skipped` with a reason, and disagreements between what the source declared and what was read
are listed as gaps (each also recorded as a `ledger.gap` event).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = ["ALREADY_PRESENT", "IMPORTED", "SKIPPED", "Gap", "ImportReport", "RecordOutcome"]

IMPORTED: Final = "imported"
ALREADY_PRESENT: Final = "already present"
SKIPPED: Final = "skipped"
Outcome = Literal["imported", "already present", "skipped"]


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What became of one source record (a span or an observation); reason only when skipped."""

    record: str
    outcome: Outcome
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"record": self.record, "outcome": self.outcome, "reason": self.reason or None}


@dataclass(frozen=True, slots=True)
class Gap:
    """A count the source declared that disagrees with what was read."""

    scope: str
    expected: int
    seen: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "expected": self.expected, "seen": self.seen,
                "reason": self.reason}


@dataclass
class ImportReport:
    """Counts of one import plus the records that were not imported (the rest are counted only,
    so the report stays small however large the input)."""

    source: str
    window: dict[str, str | None] = field(default_factory=dict)
    seen: int = 0
    imported: int = 0
    already_present: int = 0
    runs: int = 0
    skipped: list[RecordOutcome] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def add(self, outcome: RecordOutcome) -> None:
        """Count one record's outcome (seen is counted by the reader, before any outcome)."""
        if outcome.outcome == IMPORTED:
            self.imported += 1
        elif outcome.outcome == ALREADY_PRESENT:
            self.already_present += 1
        else:
            self.skipped.append(outcome)

    @property
    def empty(self) -> bool:
        """No record at all in the window: said out loud, an error unless allowed."""
        return self.seen == 0

    @property
    def balanced(self) -> bool:
        """Every record seen has exactly one outcome."""
        return self.seen == self.imported + self.already_present + len(self.skipped)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "window": self.window,
            "seen": self.seen,
            "imported": self.imported,
            "already_present": self.already_present,
            "skipped": len(self.skipped),
            "runs": self.runs,
            "skipped_records": [s.as_json() for s in self.skipped],
            "gaps": [g.as_json() for g in self.gaps],
        }

    def summary(self) -> str:
        """One line for people: the counts, gaps and an empty window named."""
        text = (f"{self.source}: {self.seen} seen, {self.imported} imported, "
                f"{self.already_present} already present, {len(self.skipped)} skipped, "
                f"{self.runs} runs")
        if self.gaps:
            text += f", {len(self.gaps)} gaps"
        if self.empty:
            text += " (empty window: no records)"
        return text
