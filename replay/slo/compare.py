"""Canary comparison of live traffic: baseline vs candidate versions, per SLI, with significance.

Why tests and a floor of runs: a candidate prompt with 14/20 completions vs 18/20 looks worse
but is not shown worse (one-sided Fisher p = 0.118); and 3 runs say nothing at all. So each
ratio SLI gets a one-sided Fisher exact test (candidate worse) at `alpha`, run latency a
one-sided Mann-Whitney U on the run durations (candidate slower), and a side with fewer than
`min_runs` ended runs is "not enough runs" — never a pass. The money and time SLIs are shown
side by side without a test. Decision: `regression` if any test rejects, else
`not_enough_runs` if either side is short of runs, else `pass`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import InputError
from replay.gate.selector import Selector
from replay.gate.stats import fisher_worse, mann_whitney_greater
from replay.slo.model import RATIOS, SLI_NAMES, Sli, SliReport, SliRow
from replay.slo.slis import _versions, compute_slis

__all__ = ["Comparison", "SliComparison", "compare_versions"]

Verdict = Literal["regression", "ok", "not_enough_runs", "no_data", "not_tested"]
Decision = Literal["regression", "not_enough_runs", "pass"]


@dataclass(frozen=True, slots=True)
class SliComparison:
    """One SLI on both sides and what the test said."""

    name: str
    baseline: Sli
    candidate: Sli
    verdict: Verdict
    p_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"sli": self.name, "baseline": self.baseline.to_json(),
                "candidate": self.candidate.to_json(), "verdict": self.verdict,
                "p_value": self.p_value}


@dataclass(frozen=True, slots=True)
class Comparison:
    """The whole comparison: per SLI, the run counts and the decision; per side, the runs left
    out as gate runs (an operator's gate result lists them) and the runs only tagged as gate
    runs by their writer (counted as live traffic)."""

    slis: tuple[SliComparison, ...]
    baseline_runs: int
    candidate_runs: int
    alpha: float
    min_runs: int
    decision: Decision
    gate_runs_excluded: tuple[int, int] = (0, 0)
    gate_tagged_unjudged: tuple[int, int] = (0, 0)

    def to_json(self) -> dict[str, Any]:
        def sides(pair: tuple[int, int]) -> dict[str, int]:
            return {"baseline": pair[0], "candidate": pair[1]}

        return {"decision": self.decision, "alpha": self.alpha, "min_runs": self.min_runs,
                "baseline_runs": self.baseline_runs, "candidate_runs": self.candidate_runs,
                "gate_runs_excluded": sides(self.gate_runs_excluded),
                "gate_tagged_unjudged": sides(self.gate_tagged_unjudged),
                "slis": [s.to_json() for s in self.slis]}


def compare_versions(
    conn: psycopg.Connection[Any], settings: Settings, baseline: Selector, candidate: Selector,
    *, agent: str | None = None, since: datetime | None = None, until: datetime | None = None,
    alpha: float = 0.05, min_runs: int = 20,
) -> Comparison:
    """Compare the runs `baseline` matches with those `candidate` matches. Each side is read
    with all of its keys: versions, its tenant's log, its since/until intersected with the
    window; a side that matches nothing has 0 runs ("not enough runs"), never every run."""
    reports = [compute_slis(conn, settings, agent=agent, version=side, since=since, until=until)
               for side in (baseline, candidate)]
    _refuse_overlap(reports, baseline, candidate)
    base, cand = (_side(r) for r in reports)
    durations = (_durations(conn, reports[0], baseline, agent),
                 _durations(conn, reports[1], candidate, agent))
    out = []
    for name in SLI_NAMES:
        b, c = base[name], cand[name]
        if name in RATIOS:
            out.append(_ratio(b, c, alpha, min_runs))
        elif name == "run_latency_p95_seconds":
            out.append(_latency(b, c, durations, alpha, min_runs))
        else:
            out.append(SliComparison(name, b, c, "not_tested"))
    runs_b, runs_c = base["task_completion"].denominator, cand["task_completion"].denominator
    decision: Decision = "pass"
    if any(s.verdict == "regression" for s in out):
        decision = "regression"
    elif min(runs_b, runs_c) < min_runs:
        decision = "not_enough_runs"
    return Comparison(tuple(out), runs_b, runs_c, alpha, min_runs, decision,
                      (reports[0].gate_runs, reports[1].gate_runs),
                      (reports[0].tagged_unjudged, reports[1].tagged_unjudged))


def _refuse_overlap(reports: Sequence[SliReport], baseline: Selector,
                    candidate: Selector) -> None:
    """InputError when both sides hold the same runs (a version set both select, in windows
    and tenants that overlap): such runs would be compared with themselves, e.g.
    `--baseline prompt=support/v3 --candidate model=gpt-4o-mini`."""
    if baseline.tenant is not None and candidate.tenant not in (None, baseline.tenant):
        return
    (s1, u1), (s2, u2) = ((r.since, r.until) for r in reports)
    start = max((t for t in (s1, s2) if t is not None), default=None)
    end = min((t for t in (u1, u2) if t is not None), default=None)
    if start is not None and end is not None and start >= end:
        return
    shared = {_key(r) for r in reports[0].rows if r.runs} & {_key(r) for r in reports[1].rows
                                                             if r.runs}
    if shared:
        from ledger.terminal import printable
        from replay.slo.model import version_label

        row = next(r for r in reports[0].rows if _key(r) in shared)
        raise InputError(
            f"--baseline {baseline} and --candidate {candidate} both select the runs of "
            f"{printable(row.agent)} {printable(version_label(row.versions))}: a side cannot "
            "be compared with itself (make the selectors disjoint)")


def _key(row: SliRow) -> tuple[str | None, ...]:
    v = row.versions
    return (v.agent, v.agent_version, v.prompt_version, v.model, v.policy_hash,
            v.tool_contract_digest)


def _side(report: SliReport) -> dict[str, Sli]:
    """One side's SLIs: its rows merged (sums of numerators and denominators; the
    percentiles and per-outcome figures of a single row, else unknown)."""
    return {name: _merge(name, report.rows) for name in SLI_NAMES}


def _merge(name: str, rows: Sequence[SliRow]) -> Sli:
    slis = [r.sli(name) for r in rows]
    if len(slis) == 1:
        return slis[0]
    unit = slis[0].unit if slis else ("ratio" if name in RATIOS else "seconds")
    den = sum(s.denominator for s in slis)
    if name == "cost_per_resolved_usd" and slis and all(s.numerator is None for s in slis):
        return Sli(name, None, None, den, unit, "no priced spend recorded")
    if name in RATIOS or name in ("cost_per_resolved_usd", "human_review_seconds"):
        num = sum(float(s.numerator or 0) for s in slis)
        value = num / den if den else None
        return Sli(name, value, num, den, unit, f"{len(slis)} version sets merged")
    return Sli(name, None, None, den, unit, f"{len(slis)} version sets: not merged")


def _ratio(b: Sli, c: Sli, alpha: float, min_runs: int) -> SliComparison:
    if not b.denominator or not c.denominator:
        return SliComparison(b.name, b, c, "no_data")
    if min(b.denominator, c.denominator) < min_runs:
        return SliComparison(b.name, b, c, "not_enough_runs")
    p = fisher_worse(int(b.numerator or 0), b.denominator, int(c.numerator or 0), c.denominator)
    return SliComparison(b.name, b, c, "regression" if p < alpha else "ok", p)


def _latency(b: Sli, c: Sli, durations: tuple[list[float], list[float]], alpha: float,
             min_runs: int) -> SliComparison:
    base, cand = durations
    if not base or not cand:
        return SliComparison(b.name, b, c, "no_data")
    if min(len(base), len(cand)) < min_runs:
        return SliComparison(b.name, b, c, "not_enough_runs")
    p = mann_whitney_greater(base, cand)
    return SliComparison(b.name, b, c, "regression" if p < alpha else "ok", p)


def _durations(conn: psycopg.Connection[Any], report: SliReport, side: Selector,
               agent: str | None) -> list[float]:
    """The durations of one side's ended runs (same window, tenant and gate runs as its
    SLIs: `report` is the side's own compute_slis result)."""
    from replay.slo.gateruns import judged_gate_runs

    params = {"since": report.since, "until": report.until, "agent": agent or side.agent,
              "tenant": side.tenant, "include_gate": report.include_gate,
              "gate_runs": judged_gate_runs(conn)}
    return [float(row[6]) for row in conn.execute(query("slo_durations"), params)
            if side.versions_match(_versions(row[:6]))]
