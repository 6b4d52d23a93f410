"""The after-action report / improvement plan of a tabletop exercise, from its ledger record.

Why one builder over the record: the TUI's `w`, `ledger exercise report` and the evidence bundle
must produce the same document, and it must be the record's (ledger.exercises.load_record), never
a window's memory — reopening an exercise and writing the report regenerates everything recorded,
it can never overwrite a full report with an empty one (an exercise with no record is refused).
The shape is HSEEP's AAR/IP as CISA's CTEP uses it: exercise overview, analysis of objectives with
the P / S / M / U rating table, strengths and areas for improvement per objective, injects with
their release times, the discussion questions with the team's answers, Appendix A the improvement
plan (action, owner, due date) and Appendix B the participants. Every recorded value is text a
person or the exercise file supplied: it goes through `ledger.markdown`, so it cannot add a
heading, a link, HTML or a table cell.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from ledger.config import Settings
from ledger.errors import InputError
from ledger.event_exercise import MILESTONE_NAMES, RATINGS, ExerciseStartedData
from ledger.exercises import ExerciseRecord, load_record
from ledger.markdown import markdown_code as code
from ledger.markdown import markdown_text as md

__all__ = ["aar_markdown", "write_aar"]

_NONE = "- none recorded"


def _secs(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.0f}s"


def _objective(started: ExerciseStartedData, index: int | None) -> str:
    if index is None:
        return "(no objective)"
    if index < len(started.objectives):
        return f"{index + 1}. {md(started.objectives[index])}"
    return f"{index + 1}. (not in the exercise file)"


def _overview(record: ExerciseRecord, started: ExerciseStartedData) -> list[str]:
    status = "ended" if record.ended else "in progress (not ended)"
    return [
        f"# After-Action Report / Improvement Plan: {md(started.title)}",
        "",
        "## Exercise Overview",
        "",
        "| | |",
        "|---|---|",
        f"| Exercise Name | {md(started.title)} ({code(started.name)}) |",
        f"| Exercise Dates | {md(record.started_at[:10])} ({status}) |",
        f"| Scope | {md(started.scope or 'discussion-based tabletop exercise')} |",
        f"| Scenario | {md(started.scenario or '-')} |",
        f"| Scenario run | {code(started.scenario_run_id or '-')} |",
        f"| Namespace | {code(record.tenant)} (its own log origin: not production) |",
        f"| Facilitator | {md(started.facilitator)} |",
        f"| Exercise file SHA-256 | {code(started.file_sha256)} |",
        f"| Events recorded | {record.events} |",
        "",
        "## Participants and Facilitator",
        "",
        f"- Facilitator: {md(started.facilitator)}",
        *[f"- {md(p.role)}: {md(p.person)}" for p in started.participants],
        "",
    ]


def _objectives(record: ExerciseRecord, started: ExerciseStartedData) -> list[str]:
    out = [
        "## Analysis of Objectives",
        "",
        "| Objective | Performed without Challenges (P) | Performed with Some Challenges (S) "
        "| Performed with Major Challenges (M) | Unable to be Performed (U) |",
        "|---|---|---|---|---|",
    ]
    for n, _ in enumerate(started.objectives):
        rated = record.ratings.get(n)
        marks = ["X" if rated and rated.rating == r else "" for r in RATINGS]
        out.append(f"| {_objective(started, n)} | {' | '.join(marks)} |")
    out += ["", "Ratings: " + "; ".join(f"{k} = {v}" for k, v in RATINGS.items()) + ".", ""]
    for n, _ in enumerate(started.objectives):
        rated = record.ratings.get(n)
        out += [f"### Objective {_objective(started, n)}", ""]
        out.append(
            f"- Rating: {RATINGS[rated.rating]} ({rated.rating}), by {md(rated.rated_by)}"
            + (f": {md(rated.reason)}" if rated.reason else "")
            if rated
            else "- Rating: NOT RATED"
        )
        out += ["", "#### Strengths", "", *_findings(record, "strength", n)]
        out += ["", "#### Areas for Improvement", "", *_findings(record, "improvement", n), ""]
    return out


def _findings(record: ExerciseRecord, kind: str, objective: int | None) -> list[str]:
    lines = [
        f"- {md(f.text)} (recorded by {md(f.recorded_by)})"
        for f in record.findings
        if f.kind == kind and f.objective == objective
    ]
    return lines or [_NONE]


def _times(record: ExerciseRecord, started: ExerciseStartedData) -> list[str]:
    out = [
        "## Measured Times",
        "",
        "Each timer stops when the facilitator marks the question answered.",
        "",
        "| milestone | answered at | answered by | target | met |",
        "|---|---|---|---|---|",
    ]
    for milestone in MILESTONE_NAMES:
        got = record.answers.get(milestone)
        target = started.targets_ms.get(milestone)
        met = (
            "-" if got is None or target is None else ("yes" if got.elapsed_ms <= target else "no")
        )
        out.append(
            f"| time-to-{milestone.replace('_', '-')} | "
            f"{'not answered' if got is None else 'T+' + _secs(got.elapsed_ms)} | "
            f"{'-' if got is None else md(got.answered_by)} | {_secs(target)} | {met} |"
        )
    return [*out, ""]


def _injects(record: ExerciseRecord, started: ExerciseStartedData) -> list[str]:
    out = ["## Injects", "", "| inject | scheduled | released | by | text |"]
    out.append("|---|---|---|---|---|")
    for inject in started.injects:
        rel = record.released.get(inject.id)
        when = "manual" if inject.at_ms is None else "T+" + _secs(inject.at_ms)
        released = "not released" if rel is None else "T+" + _secs(rel.elapsed_ms)
        by = "-" if rel is None else md(rel.released_by)
        out.append(f"| {md(inject.id)} | {when} | {released} | {by} | {md(inject.text)} |")
    return [*out, ""]


def _discussion(record: ExerciseRecord, started: ExerciseStartedData) -> list[str]:
    out = ["## Discussion Questions", ""]
    for n, question in enumerate(started.questions):
        answer = record.discussion.get(n)
        out += [
            f"{n + 1}. {md(question)}",
            f"   - Answer: {md(answer.answer)} (recorded by {md(answer.recorded_by)})"
            if answer
            else "   - Answer: no answer recorded",
        ]
    return [*out, ""]


def _plan(record: ExerciseRecord, started: ExerciseStartedData) -> list[str]:
    actions = [f for f in record.findings if f.kind == "action"]
    return [
        "## Appendix A: Improvement Plan",
        "",
        "| Objective | Corrective Action | Primary Responsible (owner) | Completion Date (due) |",
        "|---|---|---|---|",
        *[
            f"| {_objective(started, f.objective)} | {md(f.text)} | "
            f"{md(f.owner or 'UNASSIGNED')} | {md(f.due or 'TBD')} |"
            for f in actions
        ],
        *([] if actions else ["", "No corrective action recorded."]),
        "",
        "## Appendix B: Participants",
        "",
        "| role | person |",
        "|---|---|",
        f"| facilitator | {md(started.facilitator)} |",
        *[f"| {md(p.role)} | {md(p.person)} |" for p in started.participants],
        "",
    ]


def aar_markdown(record: ExerciseRecord) -> str:
    """The AAR/IP Markdown of a recorded exercise; InputError when nothing was recorded."""
    started = record.started
    if started is None:
        raise InputError(
            f"no exercise {record.name!r} recorded in the ledger "
            f"(tenant {record.tenant}): play it first with ledger tui --exercise FILE"
        )
    general = [f for f in record.findings if f.objective is None and f.kind != "action"]
    return "\n".join(
        [
            *_overview(record, started),
            *_objectives(record, started),
            "## Strengths and Areas for Improvement not tied to one objective",
            "",
            *([f"- {f.kind}: {md(f.text)}" for f in general] or [_NONE]),
            "",
            *_times(record, started),
            *_injects(record, started),
            *_discussion(record, started),
            *_plan(record, started),
        ]
    )


def write_aar(conn: psycopg.Connection, settings: Settings, name: str, path: Path) -> Path:
    """Rebuild the report of exercise `name` from the ledger and write it to `path`."""
    text = aar_markdown(load_record(conn, settings, name))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
