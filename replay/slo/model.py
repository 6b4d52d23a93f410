"""Typed results of the behaviour SLIs (contract 7): per agent and versions, one Sli each.

Why numerators and denominators next to every value: an SLI of 1.0 over 2 runs and over 2,000
runs are different claims, and `unknown` (value None) must never read as a pass. The row also
keeps the counts an honest report names: runs excluded as gate runs, runs without `ledger
check` verdicts (never counted compliant), tool calls nobody can judge (no schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ledger.event_gate import GateVersions

__all__ = ["SLI_NAMES", "Sli", "SliReport", "SliRow", "Unit", "version_label"]

Unit = Literal["ratio", "usd", "seconds"]

#: Contract 7's names, also the label values of the `agent_ledger_sli` gauges.
SLI_NAMES = (
    "task_completion",
    "correct_escalation",
    "tool_call_validity",
    "policy_compliance",
    "spend_within_budget",
    "cost_per_resolved_usd",
    "human_review_seconds",
    "run_latency_p50_seconds",
    "run_latency_p95_seconds",
    "time_to_stop_seconds",
)
RATIOS = frozenset(SLI_NAMES[:5])


@dataclass(frozen=True, slots=True)
class Sli:
    """One indicator: value (None = unknown: no data to say), what it was computed from."""

    name: str
    value: float | None
    numerator: float | None
    denominator: int
    unit: Unit
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "numerator": self.numerator,
                "denominator": self.denominator, "unit": self.unit, "note": self.note}


@dataclass(frozen=True, slots=True)
class SliRow:
    """The SLIs of one agent at one set of versions (the run.started envelope's)."""

    versions: GateVersions
    runs: int
    gate_runs: int
    handoffs: int
    slis: tuple[Sli, ...]
    #: runs tagged as gate runs (the writer's claim) that no gate result lists: counted
    tagged_unjudged: int = 0
    #: calls judged against (a contract-declared schema, a writer-recorded one)
    schema_calls: tuple[int, int] = (0, 0)

    @property
    def agent(self) -> str:
        return self.versions.agent

    def sli(self, name: str) -> Sli:
        return next(s for s in self.slis if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "versions": self.versions.model_dump(mode="json"),
                "runs": self.runs, "gate_runs_excluded": self.gate_runs,
                "gate_tagged_unjudged": self.tagged_unjudged, "handoffs": self.handoffs,
                "calls_judged_by_schema": {"contract": self.schema_calls[0],
                                           "writer_recorded": self.schema_calls[1]},
                "slis": [s.to_json() for s in self.slis]}


@dataclass(frozen=True, slots=True)
class SliReport:
    """Every row of the window, and how it was selected."""

    rows: tuple[SliRow, ...]
    since: datetime | None
    until: datetime | None
    include_gate: bool

    @property
    def gate_runs(self) -> int:
        return sum(r.gate_runs for r in self.rows)

    @property
    def tagged_unjudged(self) -> int:
        return sum(r.tagged_unjudged for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "include_gate": self.include_gate, "gate_runs_excluded": self.gate_runs,
                "gate_tagged_unjudged": self.tagged_unjudged,
                "rows": [r.to_json() for r in self.rows]}


def version_label(v: GateVersions) -> str:
    """A short bounded label for a version set (gauges, table headings): agent_version,
    prompt, model and a 12-hex prefix of the policy and tool-contract digests."""
    parts = [v.agent_version and f"v{v.agent_version}",
             v.prompt_version and f"prompt={v.prompt_version}", v.model and f"model={v.model}",
             v.policy_hash and f"policy={v.policy_hash[:12]}",
             v.tool_contract_digest and f"tools={v.tool_contract_digest[:12]}"]
    return " ".join(p for p in parts if p) or "-"
