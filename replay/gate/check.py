"""`ledger gate check`: judge already-recorded runs against a suite (teams with their own runner).

Why runs are matched by their gate tag only: a run is an attempt of a task because the runner
said so when it started it (run.started `attributes.gate`, contract 1), never because it looks
similar. Runs the selector names that are untagged, tagged for another suite, tagged with a task
this suite does not have, or recorded under another agent are counted and reported, not guessed
into a task. The tag is a writer's claim; it can only put a run into the evaluation, where its
recorded events are judged like any other: it cannot carry a verdict, and nothing that was not
evaluated reaches the result.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from replay.gate.evaluate import GateReport, TaggedRun, evaluate_runs
from replay.gate.selector import SelectedRun, Selector, select_runs
from replay.gate.suite import Suite

if TYPE_CHECKING:
    import psycopg

    from ledger.authority.trust import TrustRoot
    from ledger.config import Settings

__all__ = ["CheckResult", "Matched", "check_suite", "match_runs"]


@dataclass(frozen=True, slots=True)
class Matched:
    """The selected runs sorted into attempts and the ones left out, by why."""

    tagged: tuple[TaggedRun, ...]
    untagged: int = 0
    other_suite: int = 0
    unknown_task: int = 0
    other_agent: int = 0
    other_hash: int = 0  # evaluated, but tagged with another version of the suite
    unknown_tasks: tuple[str, ...] = ()  # a few of the unknown task ids (writer text)

    def to_json(self) -> dict[str, Any]:
        return {"matched": len(self.tagged), "untagged": self.untagged,
                "other_suite": self.other_suite, "unknown_task": self.unknown_task,
                "other_agent": self.other_agent, "other_suite_hash": self.other_hash,
                "unknown_tasks": list(self.unknown_tasks)}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `gate check` found: the selection and the evaluation of the matched runs."""

    selector: Selector
    selected: int
    matched: Matched
    report: GateReport
    tenants: tuple[str | None, ...] = ()  # of the matched runs (where the result is recorded)


def match_runs(suite: Suite, selected: list[SelectedRun]) -> Matched:
    """Attempts by gate tag; everything else counted (see the module docstring)."""
    why: Counter[str] = Counter()
    unknown: dict[str, None] = {}
    tagged: list[TaggedRun] = []
    for run in selected:
        tag = run.gate
        if tag is None or tag.task is None:
            why["untagged"] += 1
        elif tag.suite != suite.suite:
            why["other_suite"] += 1
        elif suite.task(tag.task) is None:
            why["unknown_task"] += 1
            unknown.setdefault(tag.task, None)
        elif run.agent != suite.agent.name:
            why["other_agent"] += 1
        else:
            if tag.suite_hash is not None and tag.suite_hash != suite.suite_hash:
                why["other_hash"] += 1
            tagged.append(TaggedRun(run.run_id, tag.task, tag.attempt))
    return Matched(tuple(tagged), why["untagged"], why["other_suite"], why["unknown_task"],
                   why["other_agent"], why["other_hash"], tuple(list(unknown)[:5]))


def check_suite(
    conn: psycopg.Connection[Any], settings: Settings, suite: Suite, selector: Selector,
    *, trust_root: TrustRoot | None,
) -> CheckResult:
    """Select, match, evaluate: the whole of `gate check` except printing and recording."""
    selected = select_runs(conn, selector)
    matched = match_runs(suite, selected)
    report = evaluate_runs(conn, settings, suite, matched.tagged, trust_root=trust_root)
    judged = {t.run_id for t in matched.tagged}
    tenants = tuple(dict.fromkeys(r.tenant for r in selected if r.run_id in judged))
    return CheckResult(selector, len(selected), matched, report, tenants)
