"""Tabletop exercises: the exercise file, its clocks, decisions and the after-action report.

Why this shape (CISA CTEP / HSEEP): an exercise is objectives + roles + injects (timed or manual)
+ discussion questions, played over a recorded or synthetic run. Everything it writes goes to the
tenant `exercise-<name>`, which is its own log origin, so exercise events can never be mistaken
for production ones; stop and undo are dry runs there. The clock is injectable so tests and
snapshots are deterministic. The report is Markdown (strengths, gaps, corrective actions with
owner and date) so it can be filed as CC7.4/CC7.5 evidence.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ledger.errors import InputError
from ledger.markdown import markdown_code as code
from ledger.markdown import markdown_text as md

__all__ = ["Exercise", "ExerciseError", "Finding", "Inject"]

MILESTONES = ("trace", "stop", "undo_plan")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class ExerciseError(InputError, ValueError):
    """The exercise file is malformed."""


@dataclass
class Inject:
    """A scenario update: released at `at_seconds` after start, or by the facilitator."""

    id: str
    text: str
    at_seconds: float | None = None
    released_at: float | None = None


@dataclass
class Finding:
    """A hot-wash finding: strength, gap, or corrective action (with owner and due date)."""

    kind: str
    text: str
    owner: str = ""
    due: str = ""


@dataclass
class Exercise:
    """A loaded exercise and its running state."""

    name: str
    title: str
    scenario: dict[str, Any]
    objectives: list[str]
    roles: list[dict[str, str]]
    injects: list[Inject]
    questions: list[str]
    targets: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    marks: dict[str, float] = field(default_factory=dict)
    decisions: list[tuple[float, str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    run_id: str | None = None

    @property
    def tenant(self) -> str:
        """The exercise namespace: its own tenant and so its own log origin."""
        return f"exercise-{self.name}"

    @classmethod
    def load(cls, path: Path) -> Exercise:
        """Parse an exercise YAML file."""
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise ExerciseError(f"{path}: not a YAML mapping")
        name = str(doc.get("name", ""))
        if not _NAME.match(name):
            raise ExerciseError(f"{path}: name must match {_NAME.pattern}")
        injects = [
            Inject(
                str(i.get("id", f"i{n}")),
                str(i.get("text", "")),
                None if i.get("manual") else float(i.get("at_seconds", 0)),
            )
            for n, i in enumerate(doc.get("injects") or [])
        ]
        return cls(
            name=name,
            title=str(doc.get("title", name)),
            scenario=dict(doc.get("scenario") or {"synthetic": "incident"}),
            objectives=[str(o) for o in doc.get("objectives") or []],
            roles=[{k: str(v) for k, v in r.items()} for r in doc.get("roles") or []],
            injects=injects,
            questions=[str(q) for q in doc.get("questions") or []],
            targets={str(k): float(v) for k, v in (doc.get("targets") or {}).items()},
        )

    # ------------------------------------------------------------------ clocks
    def start(self) -> None:
        """Start the exercise clock (idempotent)."""
        if self.started is None:
            self.started = self.clock()

    def elapsed(self) -> float:
        """Seconds since start (0 before start)."""
        return 0.0 if self.started is None else self.clock() - self.started

    def mark(self, milestone: str) -> bool:
        """Record the first time a milestone (trace / stop / undo_plan) was reached."""
        if self.started is None or milestone in self.marks:
            return False
        self.marks[milestone] = self.elapsed()
        return True

    def due_injects(self) -> list[Inject]:
        """Timed injects whose time has come and that are not yet released; releases them."""
        now = self.elapsed()
        due = [
            i
            for i in self.injects
            if i.released_at is None
            and i.at_seconds is not None
            and i.at_seconds <= now
            and self.started is not None
        ]
        for inject in due:
            inject.released_at = now
        return due

    def release_next_manual(self) -> Inject | None:
        """The facilitator releases the next manual inject."""
        for inject in self.injects:
            if inject.released_at is None and inject.at_seconds is None:
                inject.released_at = self.elapsed()
                return inject
        return None

    def decide(self, who: str, text: str) -> None:
        """Log a decision with its exercise time."""
        self.decisions.append((self.elapsed(), who, text))

    def add_finding(self, line: str) -> Finding:
        """Parse 'strength: …', 'gap: …' or 'action: … @owner by YYYY-MM-DD'."""
        kind, _, rest = line.partition(":")
        kind = kind.strip().lower()
        if kind not in ("strength", "gap", "action"):
            raise ExerciseError("start the finding with strength:, gap: or action:")
        owner = m.group(1) if (m := re.search(r"@(\S+)", rest)) else ""
        due = m.group(1) if (m := re.search(r"\bby (\d{4}-\d\d-\d\d)", rest)) else ""
        text = re.sub(r"@\S+|\bby \d{4}-\d\d-\d\d", "", rest).strip()
        finding = Finding(kind, text, owner, due)
        self.findings.append(finding)
        return finding

    # ------------------------------------------------------------------ report
    def report(self, today: str) -> str:
        """The after-action report / improvement plan as Markdown.

        Every value is text someone typed or recorded (exercise file, decisions, findings): it goes
        through `ledger.markdown`, so none of it can add a heading, a link, HTML or a table cell.
        """
        out = [
            f"# After-action report: {md(self.title)}",
            "",
            f"- Exercise: {code(self.name)} (namespace tenant {code(self.tenant)})",
            f"- Date: {md(today)}",
            f"- Scenario run: {code(self.run_id or '-')}",
            "",
            "## Objectives",
            *[f"- {md(o)}" for o in self.objectives],
            "",
            "## Roles",
            *[f"- {md(r.get('role', '?'))}: {md(r.get('person', '?'))}" for r in self.roles],
            "",
            "## Measured times",
            "",
            "| milestone | time | target | met |",
            "|---|---|---|---|",
        ]
        for milestone in MILESTONES:
            got = self.marks.get(milestone)
            target = self.targets.get(milestone)
            met = "-" if got is None or target is None else ("yes" if got <= target else "no")
            out.append(
                f"| time-to-{milestone.replace('_', '-')} | "
                f"{'not reached' if got is None else f'{got:.0f}s'} | "
                f"{'-' if target is None else f'{target:.0f}s'} | {met} |"
            )
        out += [
            "",
            "## Injects",
            *[
                f"- {md(i.id)} ({_when(i)}): {md(i.text)}"
                + ("" if i.released_at is None else f" — released T+{i.released_at:.0f}s")
                for i in self.injects
            ],
            "",
            "## Decisions",
            *(
                [f"- T+{t:.0f}s {md(who)}: {md(text)}" for t, who, text in self.decisions]
                or ["- none logged"]
            ),
            "",
            "## Strengths",
            *self._findings("strength"),
            "",
            "## Areas for improvement (gaps)",
            *self._findings("gap"),
            *self._auto_gaps(),
            "",
            "## Corrective actions",
            "",
            "| action | owner | due |",
            "|---|---|---|",
            *[
                f"| {md(f.text)} | {md(f.owner or 'UNASSIGNED')} | {md(f.due or 'TBD')} |"
                for f in self.findings
                if f.kind == "action"
            ],
            "",
            "## Discussion questions",
            *[f"- {md(q)}" for q in self.questions],
            "",
        ]
        return "\n".join(out)

    def _findings(self, kind: str) -> list[str]:
        return [f"- {md(f.text)}" for f in self.findings if f.kind == kind] or ["- none recorded"]

    def _auto_gaps(self) -> list[str]:
        return [
            f"- time-to-{m.replace('_', '-')} not reached during the exercise"
            for m in MILESTONES
            if m not in self.marks
        ]


def _when(inject: Inject) -> str:
    return "manual" if inject.at_seconds is None else f"T+{inject.at_seconds:.0f}s"
