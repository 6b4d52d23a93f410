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

from ledger.errors import InputError
from ledger.terminal import printable
from replay.gate.evaluate import GateReport, TaggedRun, evaluate_runs
from replay.gate.selector import SelectedRun, Selector, select_runs
from replay.gate.suite import Suite

if TYPE_CHECKING:
    import psycopg

    from ledger.authority.trust import TrustRoot
    from ledger.config import Settings

__all__ = ["CheckResult", "Matched", "MixedVersions", "check_suite", "match_runs",
           "require_one_version"]

# a version key that differs -> the selector key that narrows it (tool contracts have none)
_NARROW = {"agent_version": "agent=NAME@VERSION", "prompt_version": "prompt=NAME/VERSION",
           "model": "model=M", "policy_hash": "policy=HASHPREFIX",
           "tool_contract_digest": "a label per tool-contract version"}


class MixedVersions(InputError, ValueError):
    """The runs judged were recorded under several version tuples (one line, exit 2)."""


def require_one_version(report: GateReport, how: str) -> None:
    """Refuse a result that would mix versions (walk-through #5 of issue 19).

    Why refuse and not split: a gate result is "version X passed"; pooling the attempts of two
    versions lets one's passes dilute the other's failures, and `gate compare` / `ledger
    versions` would then credit the pool to either. One result judges exactly one version
    tuple, so the user narrows the selection (`how` says how) and runs one check per version."""
    if len(report.versions) <= 1:
        return
    differ = [k for k in _NARROW if len({getattr(v, k) for v in report.versions}) > 1]
    shown = "; ".join(f"{k} " + ", ".join(sorted({repr(printable(getattr(v, k) or "-")[:40])
                                                 for v in report.versions}))
                      for k in differ)  # fmt: skip
    raise MixedVersions(
        f"the runs judged were recorded under {len(report.versions)} versions ({shown}): a gate "
        f"result judges one version; {how} ({' or '.join(_NARROW[k] for k in differ)})")


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
    require_one_version(report, "narrow --runs")
    judged = {t.run_id for t in matched.tagged}
    tenants = tuple(dict.fromkeys(r.tenant for r in selected if r.run_id in judged))
    return CheckResult(selector, len(selected), matched, report, tenants)
