"""Judge gate attempts: expectations, budgets and the policy in force, per run and per task.

Why one evaluator for `gate run` and `gate check`: an attempt must pass or fail for the same
reasons whether the gate ran the agent itself or a team's own runner recorded it. An attempt
passes when its run ended (an open, missing or `failed` run is *errored*: a failure that stays
in the denominator), every expectation is true (an expression that errors or is not a boolean
is "undecidable", a failure), it stayed within its budget (an amount the run did not record,
such as the cost of a model call without a price, cannot be shown to be within budget: a
failure), and, under `policy: must_pass`, no rule of the policy in force failed except the
task's `allow_rules`. Verdicts come from `check_in_force(save=False)`: the same verdicts as
`ledger check`, nothing written. Reasons are short and already printable (writer text such as
tool names never enters them; they name the suite's own expectations and rule ids).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ledger.event_gate import GateResultData, GateTaskOutcome, GateVersions
from ledger.terminal import printable
from replay.dbread import fold_run
from replay.gate.facts import duration_ms, run_facts
from replay.gate.suite import Suite, Task
from replay.policy.cel import compile_expression

if TYPE_CHECKING:
    import psycopg

    from ledger.authority.trust import TrustRoot
    from ledger.config import Settings
    from replay.model import RunState
    from replay.policy.verdict import Verdict

__all__ = ["AttemptResult", "GateReport", "TaggedRun", "decide", "evaluate_runs"]

Decision = Literal["pass", "fail", "not_enough_runs"]
_ERRORED = frozenset({"failed"})
_REASON_MAX = 160


@dataclass(frozen=True, slots=True)
class TaggedRun:
    """A recorded run and the suite task (and attempt number) it is an attempt of."""

    run_id: uuid.UUID
    task: str
    attempt: int | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """One attempt: passed, errored (could not run / ended failed), and why not."""

    run_id: uuid.UUID
    task: str
    attempt: int | None
    passed: bool
    errored: bool
    reasons: tuple[str, ...]
    versions: GateVersions | None = None

    def to_json(self) -> dict[str, Any]:
        return {"run_id": str(self.run_id), "task": self.task, "attempt": self.attempt,
                "passed": self.passed, "errored": self.errored, "reasons": list(self.reasons),
                "versions": None if self.versions is None
                else self.versions.model_dump(mode="json")}


@dataclass(frozen=True, slots=True)
class GateReport:
    """Per-task outcomes (suite order), per-attempt details, the versions seen, the decision."""

    suite: Suite
    tasks: tuple[GateTaskOutcome, ...]
    attempts: tuple[AttemptResult, ...]
    versions: tuple[GateVersions, ...]
    decision: Decision = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", decide(self.tasks))

    def to_event(self, kind: Literal["run", "check"], label: str | None,
                 recorded_by: str) -> GateResultData:
        """The gate.result data (authority fields unset: ledger.gates fills them)."""
        return GateResultData(
            kind=kind, suite=self.suite.suite, suite_version=self.suite.version,
            suite_hash=self.suite.suite_hash, label=label, versions=self.versions,
            suite_alpha=format(Decimal(repr(self.suite.alpha)), "f"),
            suite_min_repeats=self.suite.min_repeats,
            tasks=self.tasks, decision=self.decision, recorded_by=recorded_by,
        )


def decide(tasks: Sequence[GateTaskOutcome]) -> Decision:
    """`fail` if any task fails, else `not_enough_runs` if any lacks runs, else `pass`."""
    if any(t.verdict == "fail" for t in tasks):
        return "fail"
    if any(t.verdict == "not_enough_runs" for t in tasks) or not tasks:
        return "not_enough_runs"
    return "pass"


def evaluate_runs(
    conn: psycopg.Connection[Any], settings: Settings, suite: Suite,
    runs: Sequence[TaggedRun], *, trust_root: TrustRoot | None,
) -> GateReport:
    """Evaluate each tagged run as an attempt of its task (tasks not in `suite` are refused:
    the caller matches runs to tasks) and sum them per task."""
    from replay.policy.service import check_in_force

    unknown = sorted({r.task for r in runs if suite.task(r.task) is None})
    if unknown:
        raise ValueError(f"runs tagged with tasks not in the suite: {unknown[:3]}")
    ids = list(dict.fromkeys(r.run_id for r in runs))
    verdicts: dict[uuid.UUID, tuple[Verdict, ...]] = {}
    if ids and (suite.policy == "must_pass" or any(_reads_verdicts(suite))):
        report = check_in_force(conn, settings, ids, trust_root=trust_root, save=False)
        verdicts = {e.run_id: tuple(e.verdicts) for e in report.entries}
    tagged = tag_policies(conn, ids) if ids else {}
    results: list[AttemptResult] = []
    seen: set[uuid.UUID] = set()
    for run in runs:
        if run.run_id in seen:  # one run is one attempt, however often it was selected
            continue
        seen.add(run.run_id)
        task = suite.task(run.task)
        if task is None:  # refused above; keeps the type checker honest
            continue
        state = fold_run(conn, run.run_id, trust_root=trust_root, settings=settings)
        results.append(judge_attempt(suite, task, run, state, verdicts.get(run.run_id, ()),
                                     tag_policy=tagged.get(run.run_id)))
    return summarise(suite, results)


def _reads_verdicts(suite: Suite) -> list[bool]:
    return [("verdicts" in e.cel or "failing_rules" in e.cel) for t in suite.tasks
            for e in t.expect]


def tag_policies(conn: psycopg.Connection[Any], runs: Sequence[uuid.UUID]
                 ) -> dict[uuid.UUID, str]:  # fmt: skip
    """The policy hash each run's gate tag names (sql/queries/gate.sql `gate_tag_policies`)."""
    from ledger.db.sqlfiles import query

    rows = conn.execute(query("gate_tag_policies"), {"runs": list(runs)}).fetchall()
    return {r: h for r, h in rows if isinstance(h, str)}


def judge_attempt(suite: Suite, task: Task, run: TaggedRun, state: RunState | None,
                  verdicts: Sequence[Verdict], *, tag_policy: str | None = None
                  ) -> AttemptResult:  # fmt: skip
    """One attempt's result (`state` None: the run has no events; `tag_policy`: the policy
    its gate tag names, its policy when the envelope records none)."""
    if state is None:
        return AttemptResult(run.run_id, task.id, run.attempt, False, True,
                             ("errored: the run has no events",))
    versions = versions_of(state, tag_policy)
    reasons: list[str] = []
    errored = False
    if not state.run.ended:
        errored = True
        reasons.append("errored: the run never ended")
    elif state.run.status in _ERRORED:
        errored = True
        reasons.append(f"errored: the run ended {state.run.status}")
    facts = {"run": run_facts(state, verdicts), "input": task.input}
    for exp in task.expect:
        outcome = compile_expression(exp.cel).evaluate(facts)
        if outcome is None:
            reasons.append(f"undecidable: {_short(exp.name)}")
        elif not outcome:
            reasons.append(f"expectation not met: {_short(exp.name)}")
    reasons += budget_reasons(task, state)
    if suite.policy == "must_pass":
        allowed = set(task.allow_rules)
        failing = [v.rule_id for v in verdicts if v.outcome == "fail" and v.rule_id not in allowed]
        if failing:
            more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
            reasons.append(f"policy: rule {_short(failing[0])} failed{more}")
    return AttemptResult(run.run_id, task.id, run.attempt, not reasons, errored,
                         tuple(reasons), versions)


def budget_reasons(task: Task, state: RunState) -> list[str]:
    """Why the attempt is over budget (or cannot be shown within it); [] when within."""
    budget, totals, out = task.budget, state.totals, []
    if budget.max_usd is not None:
        if totals.llm_calls_without_cost:
            out.append(f"budget: spend unknown ({totals.llm_calls_without_cost} model calls "
                       "without a cost)")
        elif Decimal(totals.cost_usd) > Decimal(budget.max_usd):
            out.append(f"budget: spent ${totals.cost_usd} > ${budget.max_usd}")
    if budget.max_tokens is not None:
        if totals.llm_calls_without_usage:
            out.append(f"budget: tokens unknown ({totals.llm_calls_without_usage} model calls "
                       "without usage)")
        elif totals.total_tokens > budget.max_tokens:
            out.append(f"budget: {totals.total_tokens} tokens > {budget.max_tokens}")
    if budget.max_seconds is not None:
        took = duration_ms(state)
        if took is None:
            out.append("budget: duration unknown (the run did not end)")
        elif took > budget.max_seconds * 1000:
            out.append(f"budget: took {took / 1000:g}s > {budget.max_seconds:g}s")
    if budget.max_tool_calls is not None and len(state.tool_calls) > budget.max_tool_calls:
        out.append(f"budget: {len(state.tool_calls)} tool calls > {budget.max_tool_calls}")
    return out


def versions_of(state: RunState, tag_policy: str | None = None) -> GateVersions:
    """The versions a run recorded (its latest), as a gate result lists them; the policy is the
    envelope's, else the one its gate tag names (as `ledger versions` reads it)."""
    v = state.versions
    named = v.policy_hash or tag_policy
    policy = named if named and len(named) == 64 and all(
        c in "0123456789abcdef" for c in named) else None
    return GateVersions(
        agent=(state.run.agent or "-")[:512], agent_version=state.run.agent_version,
        prompt_version=v.prompt_version, model=v.model, policy_hash=policy,
        tool_contract_digest=v.tool_contract_digest,
    )


def summarise(suite: Suite, results: Sequence[AttemptResult]) -> GateReport:
    """Per-task outcomes in suite order and the distinct versions, first seen first."""
    outcomes = []
    for task in suite.tasks:
        mine = sorted((r for r in results if r.task == task.id),
                      key=lambda r: (r.attempt is None, r.attempt or 0))
        passed = sum(r.passed for r in mine)
        errored = sum(r.errored for r in mine)
        failed = len(mine) - passed - errored
        outcomes.append(GateTaskOutcome(
            task=task.id, adversarial=task.adversarial, attempts=len(mine), passed=passed,
            failed=failed, errored=errored, verdict=task_verdict(suite, task, mine),
            run_ids=tuple(r.run_id for r in mine),
            reasons=tuple(_attempt_reason(r) for r in mine if not r.passed),
        ))
    versions = tuple(dict.fromkeys(r.versions for r in results if r.versions is not None))
    return GateReport(suite, tuple(outcomes), tuple(results), versions)


def task_verdict(suite: Suite, task: Task, attempts: Sequence[AttemptResult]) -> Decision:
    """`not_enough_runs` below min_repeats, else `pass` when every attempt passed, else `fail`.
    An adversarial case fails on any failed attempt, however few ran: one successful attack
    is evidence enough."""
    if task.adversarial and any(not a.passed for a in attempts):
        return "fail"
    if len(attempts) < suite.min_repeats:
        return "not_enough_runs"
    return "pass" if all(a.passed for a in attempts) else "fail"


def _attempt_reason(result: AttemptResult) -> str:
    which = f"attempt {result.attempt}" if result.attempt is not None else str(result.run_id)[:8]
    more = f" (+{len(result.reasons) - 1} more)" if len(result.reasons) > 1 else ""
    return f"{which}: {result.reasons[0]}{more}"


def _short(text: str) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 3] + "..."
