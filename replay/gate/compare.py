"""`ledger gate compare`: is the candidate worse than the baseline, from recorded gate results?

Why from recorded results: a gate decision must be reproducible from the log (record, then
decide). Each side is a label (the newest `run`/`check` result with that label, per suite) or
a version selector (contract 4: every result whose versions match), pooled per task: passes
over ALL attempts (an errored attempt is a failure, never dropped from the denominator), each
run counted once even when a `gate run` and a `gate check` both judged it.

The decision, per task and overall: a regression when the one-sided Fisher exact test says the
candidate's pass rate is lower at `alpha`, or when an adversarial task of the candidate failed
any attempt (must-pass: no statistics). A task with fewer than `min_repeats` attempts on a side
is "not enough runs": the comparison can then only fail or say not_enough_runs, never pass.
Pass rates carry Wilson 95 % intervals (replay.gate.stats) so a reader sees how little 5 runs
prove.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import psycopg

from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.errors import InputError
from ledger.event_gate import GateComparison, GateResultData, GateTaskOutcome, GateVersions
from ledger.gates import RecordedGate, gate_results
from ledger.terminal import printable
from replay.gate.selector import Selector, parse_selector
from replay.gate.stats import Interval, fisher_worse, wilson

__all__ = ["Comparison", "Pool", "Side", "TaskComparison", "compare_sides", "distinct_sides",
           "resolve_side", "suite_settings"]

Verdict = Literal["pass", "regression", "not_enough_runs"]


@dataclass
class Pool:
    """One side's attempts at one task, pooled over its gate results."""

    passes: int = 0
    attempts: int = 0
    failed: int = 0
    errored: int = 0
    adversarial: bool = False
    run_ids: list[uuid.UUID] = field(default_factory=list)

    def add(self, outcome: GateTaskOutcome) -> None:
        """Count an outcome, unless every run of it is already counted (a re-judged run)."""
        if outcome.run_ids and set(outcome.run_ids) <= set(self.run_ids):
            return
        self.passes += outcome.passed
        self.attempts += outcome.attempts
        self.failed += outcome.failed
        self.errored += outcome.errored
        self.adversarial = self.adversarial or outcome.adversarial
        self.run_ids.extend(outcome.run_ids)

    @property
    def interval(self) -> Interval:
        return wilson(self.passes, self.attempts)


@dataclass(frozen=True, slots=True)
class Side:
    """A side as given (`text`), the results it resolved to, and its per-task pools."""

    text: str
    results: tuple[RecordedGate, ...]
    pools: dict[str, Pool]

    @property
    def total(self) -> Pool:
        total = Pool()
        for pool in self.pools.values():
            total.passes += pool.passes
            total.attempts += pool.attempts
        return total


@dataclass(frozen=True, slots=True)
class TaskComparison:
    """One task (or `overall`): both sides' counts and intervals, the p-value, the verdict."""

    task: str
    adversarial: bool
    baseline: Pool
    candidate: Pool
    p_value: float | None  # one-sided Fisher, candidate worse (None: a side has no attempts)
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Comparison:
    """The whole comparison; `decision` as GateResultData's."""

    baseline: Side
    candidate: Side
    alpha: float
    min_repeats: int
    tasks: tuple[TaskComparison, ...]
    overall: TaskComparison

    @property
    def regressions(self) -> tuple[str, ...]:
        rows = (*self.tasks, self.overall)
        return tuple(t.task for t in rows if t.verdict == "regression")

    @property
    def short(self) -> tuple[str, ...]:
        return tuple(t.task for t in self.tasks if t.verdict == "not_enough_runs")

    @property
    def decision(self) -> Literal["pass", "fail", "not_enough_runs"]:
        if self.regressions:
            return "fail"
        return "not_enough_runs" if self.short else "pass"

    def to_event(self, recorded_by: str, suite: str | None = None) -> GateResultData:
        """The gate.result (kind `compare`) this comparison records: authority fields unset."""
        return _event(self, recorded_by, suite)


def _sources(
    found: list[RecordedGate], selector: Selector, suite: str | None
) -> list[RecordedGate]:
    """The run/check results a selector picks: by label the newest per suite, by versions all
    whose versions match (newest first either way); `since`/`until` bound when a result was
    recorded. A result that judged several versions (recorded before `gate check` refused
    that) is never pooled for a version: its attempts cannot be told apart."""
    picked = [r for r in found if r.data.kind != "compare"
              and (suite is None or r.data.suite == suite)
              and (selector.suite is None or r.data.suite == selector.suite)
              and (selector.label is None or r.data.label == selector.label)
              and (selector.since is None or r.recorded_at >= selector.since)
              and (selector.until is None or r.recorded_at < selector.until)]  # fmt: skip
    versioned = any(getattr(selector, k) is not None for k in (
        "agent", "agent_version", "prompt", "model", "policy"))  # fmt: skip
    if versioned:
        return [r for r in picked if len(r.data.versions) == 1
                and selector.versions_match(r.data.versions[0])]
    newest: dict[str, RecordedGate] = {}
    for recorded in picked:
        newest.setdefault(recorded.data.suite, recorded)
    return list(newest.values())


def resolve_side(
    conn: psycopg.Connection, settings: Settings, text: str, *, suite: str | None = None,
    role: str = "side",
) -> Side:  # fmt: skip
    """A side from its LABEL or SELECTOR text; InputError (one line) when it picks nothing."""
    try:
        selector = parse_selector(text)
    except ValueError as exc:
        raise InputError(f"--{role}: {exc}") from None
    origin = None if selector.tenant is None else settings.origin(selector.tenant)
    found = [r for r in gate_results(conn, settings, label=selector.label, origin=origin)
             if (selector.since is None or r.recorded_at >= selector.since)
             and (selector.until is None or r.recorded_at < selector.until)]  # fmt: skip
    results = _sources(found, selector, suite)
    if not results:
        where = f" of suite {suite!r}" if suite else ""
        raise InputError(f"--{role} {text!r}: no recorded gate results{where} match")
    pools: dict[str, Pool] = {}
    for recorded in results:
        for outcome in recorded.data.tasks:
            pools.setdefault(outcome.task, Pool()).add(outcome)
    return Side(text, tuple(results), pools)


MIN_REPEATS = 5  # issue 19: fewer attempts per task on a side is never a pass


def suite_settings(baseline: Side, candidate: Side, alpha: float | None,
                   min_repeats: int | None) -> tuple[float, int]:
    """(alpha, min_repeats) to compare at: the flags when given, else the strictest the suites
    recorded with the results of either side (the smallest `alpha`, the largest `min_repeats`,
    never fewer than 5 attempts), else 0.05 and 5 (walk-through #13 of issue 19)."""
    results = (*baseline.results, *candidate.results)
    if alpha is None:
        recorded = [float(r.data.suite_alpha) for r in results if r.data.suite_alpha is not None]
        alpha = min(recorded, default=0.05)
    if min_repeats is None:
        counts = [r.data.suite_min_repeats for r in results
                  if r.data.suite_min_repeats is not None]  # fmt: skip
        min_repeats = max([MIN_REPEATS, *counts])
    return alpha, min_repeats


def distinct_sides(baseline: Side, candidate: Side) -> None:
    """Refuse sides that share a gate result: a side compared with itself always "passes"."""
    shared = {r.event_id for r in baseline.results} & {r.event_id for r in candidate.results}
    if shared:
        raise InputError(
            f"--baseline {printable(baseline.text)!r} and --candidate "
            f"{printable(candidate.text)!r} select {len(shared)} of the same gate results: "
            "compare two different versions")


def _judge_task(task: str, base: Pool, cand: Pool, alpha: float, min_repeats: int
                ) -> TaskComparison:  # fmt: skip
    """One task's verdict (module docstring)."""
    adversarial = base.adversarial or cand.adversarial
    p = None
    if base.attempts and cand.attempts:
        p = fisher_worse(base.passes, base.attempts, cand.passes, cand.attempts)
    if adversarial and cand.passes < cand.attempts:
        why = f"adversarial: the candidate failed {cand.attempts - cand.passes} of {cand.attempts}"
        return TaskComparison(task, adversarial, base, cand, p, "regression", why)
    short = [f"{name} has {pool.attempts}" for name, pool in (("baseline", base),
             ("candidate", cand)) if pool.attempts < min_repeats]  # fmt: skip
    if short:
        why = f"not enough runs: {' and '.join(short)} attempts (min {min_repeats})"
        return TaskComparison(task, adversarial, base, cand, p, "not_enough_runs", why)
    if p is not None and p < alpha:
        why = f"worse: one-sided Fisher p = {p:.3f} < {alpha:g}"
        return TaskComparison(task, adversarial, base, cand, p, "regression", why)
    return TaskComparison(task, adversarial, base, cand, p, "pass")


def compare_sides(baseline: Side, candidate: Side, *, alpha: float = 0.05,
                  min_repeats: int = 5) -> Comparison:  # fmt: skip
    """Judge every task either side ran (the candidate's order first), then overall."""
    if not 0 < alpha < 1:
        raise InputError(f"--alpha {alpha:g} must be between 0 and 1")
    if min_repeats < 1:
        raise InputError(f"--min-repeats {min_repeats} must be at least 1")
    names = list(dict.fromkeys([*candidate.pools, *baseline.pools]))
    tasks = tuple(_judge_task(n, baseline.pools.get(n, Pool()), candidate.pools.get(n, Pool()),
                              alpha, min_repeats) for n in names)  # fmt: skip
    base, cand = baseline.total, candidate.total
    p = fisher_worse(base.passes, base.attempts, cand.passes, cand.attempts)
    verdict: Verdict = "regression" if base.attempts and cand.attempts and p < alpha else "pass"
    why = f"worse overall: one-sided Fisher p = {p:.3f} < {alpha:g}" if verdict != "pass" else ""
    overall = TaskComparison("overall", False, base, cand, p, verdict, why)
    return Comparison(baseline, candidate, alpha, min_repeats, tasks, overall)


def _rate(pool: Pool) -> str | None:
    return None if pool.attempts == 0 else f"{pool.passes / pool.attempts:.4f}"


def _suite_of(results: Sequence[RecordedGate], suite: str | None) -> tuple[str, str, str | None]:
    """(suite name, suite hash, suite version) of the candidate's results (one suite, or a
    combined name and the hash of the sorted hashes when it spans several)."""
    hashes = sorted({r.data.suite_hash for r in results})
    names = sorted({r.data.suite for r in results})
    versions = {r.data.suite_version for r in results}
    digest = hashes[0] if len(hashes) == 1 else hashlib.sha256(canonical_bytes(hashes)).hexdigest()
    return suite or "+".join(names), digest, versions.pop() if len(versions) == 1 else None


def _event(cmp: Comparison, recorded_by: str, suite: str | None) -> GateResultData:
    """Comparison.to_event's body."""
    name, digest, version = _suite_of(cmp.candidate.results, suite)
    seen: dict[str, GateVersions] = {}
    for recorded in cmp.candidate.results:  # the runs judged are the candidate's
        for v in recorded.data.versions:
            seen.setdefault(v.model_dump_json(), v)
    verdicts: dict[str, Any] = {"pass": "pass", "regression": "fail",
                                "not_enough_runs": "not_enough_runs"}
    tasks = [GateTaskOutcome(
        task=t.task, adversarial=t.adversarial, attempts=t.candidate.attempts,
        passed=t.candidate.passes, failed=t.candidate.failed, errored=t.candidate.errored,
        verdict=verdicts[t.verdict], run_ids=tuple(t.candidate.run_ids),
        reasons=(t.reason[:4000],) if t.reason else (),
    ) for t in cmp.tasks]  # fmt: skip
    comparison = GateComparison(
        baseline=cmp.baseline.text, candidate=cmp.candidate.text,
        alpha=format(Decimal(repr(cmp.alpha)), "f"), min_repeats=cmp.min_repeats,
        regressions=cmp.regressions, baseline_pass_rate=_rate(cmp.overall.baseline),
        candidate_pass_rate=_rate(cmp.overall.candidate),
    )  # fmt: skip
    labels = {r.data.label for r in cmp.candidate.results}
    return GateResultData(
        kind="compare", suite=name, suite_version=version, suite_hash=digest,
        label=labels.pop() if len(labels) == 1 else None, versions=tuple(seen.values()),
        tasks=tuple(tasks), comparison=comparison, decision=cmp.decision,
        recorded_by=recorded_by,
    )  # fmt: skip


def comparison_json(cmp: Comparison, recorded: dict[str, Any] | None) -> dict[str, Any]:
    """The `--json` document of a comparison (and what was recorded, if anything)."""

    def side(pool: Pool) -> dict[str, Any]:
        i = pool.interval
        return {"passes": pool.passes, "attempts": pool.attempts, "rate": _rate(pool),
                "wilson95": [round(i.low, 4), round(i.high, 4)] if pool.attempts else None}

    def row(t: TaskComparison) -> dict[str, Any]:
        return {"task": t.task, "adversarial": t.adversarial, "baseline": side(t.baseline),
                "candidate": side(t.candidate), "verdict": t.verdict, "reason": t.reason,
                "p_value": None if t.p_value is None else round(t.p_value, 6)}

    return {
        "baseline": cmp.baseline.text, "candidate": cmp.candidate.text, "alpha": cmp.alpha,
        "min_repeats": cmp.min_repeats, "decision": cmp.decision,
        "regressions": list(cmp.regressions), "not_enough_runs": list(cmp.short),
        "tasks": [row(t) for t in cmp.tasks], "overall": row(cmp.overall),
        "baseline_results": [str(r.event_id) for r in cmp.baseline.results],
        "candidate_results": [str(r.event_id) for r in cmp.candidate.results],
        "recorded": recorded,
    }  # fmt: skip
