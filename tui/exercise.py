"""Tabletop exercises: the exercise file, its clocks, and what the facilitator records.

Why this shape (CISA CTEP / HSEEP): an exercise is objectives + participants + injects (timed or
manual) + discussion questions, played over a recorded or synthetic run. Everything it writes
goes to the tenant `exercise-<name>`, its own log origin, so exercise events can never be taken
for production ones; stop and undo are dry runs there. What the facilitator records (a milestone
answered and by whom, a rating, an answer, a finding) is an `exercise.*` event
(ledger.event_exercise); this object holds the same record folded in memory
(`ledger.exercises.ExerciseRecord`) so the console shows it, and `resume` reloads it from the
ledger. A milestone's timer stops when the facilitator marks it answered, never when a panel
opens. The clock is injectable (wall-clock seconds) so tests and snapshots are deterministic;
the after-action report is exporters.aar's, built from the ledger record.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ledger import ids
from ledger.errors import InputError
from ledger.event_exercise import (
    MILESTONE_NAMES,
    RATINGS,
    ExerciseAnsweredData,
    ExerciseDiscussedData,
    ExerciseEndedData,
    ExerciseFindingData,
    ExerciseInject,
    ExerciseInjectData,
    ExerciseRatedData,
    ExerciseStartedData,
    Participant,
)
from ledger.exercises import EXERCISE_NAME, ExerciseRecord, exercise_tenant

__all__ = ["MILESTONES", "Exercise", "ExerciseError", "Inject"]

MILESTONES = MILESTONE_NAMES
_FINDING_KINDS = {"strength": "strength", "gap": "improvement", "improvement": "improvement",
                  "action": "action"}  # fmt: skip


class ExerciseError(InputError, ValueError):
    """The exercise file is malformed, or a facilitator's entry cannot be understood."""


@dataclass
class Inject:
    """A scenario update: released at `at_seconds` after start, or by the facilitator."""

    id: str
    text: str
    at_seconds: float | None = None
    released_at: float | None = None


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
    scope: str = ""
    file_sha256: str = "0" * 64
    clock: Callable[[], float] = time.time
    started: float | None = None
    marks: dict[str, float] = field(default_factory=dict)
    decisions: list[tuple[float, str, str]] = field(default_factory=list)
    run_id: str | None = None
    record: ExerciseRecord = field(init=False)

    def __post_init__(self) -> None:
        self.record = ExerciseRecord(self.name)

    @property
    def tenant(self) -> str:
        """The exercise namespace: its own tenant and so its own log origin."""
        return exercise_tenant(self.name)

    @classmethod
    def load(cls, path: Path) -> Exercise:
        """Parse an exercise YAML file (its SHA-256 goes into `exercise.started`)."""
        raw = path.read_bytes()
        doc = yaml.safe_load(raw.decode("utf-8"))
        if not isinstance(doc, dict):
            raise ExerciseError(f"{path}: not a YAML mapping")
        name = str(doc.get("name", ""))
        if not EXERCISE_NAME.match(name):
            raise ExerciseError(f"{path}: name must match {EXERCISE_NAME.pattern}")
        injects = [
            Inject(
                str(i.get("id", f"i{n}")),
                str(i.get("text", "")),
                None if i.get("manual") else float(i.get("at_seconds", 0)),
            )
            for n, i in enumerate(doc.get("injects") or [])
        ]
        roles = doc.get("participants") or doc.get("roles") or []
        return cls(
            name=name,
            title=str(doc.get("title", name)),
            scenario=dict(doc.get("scenario") or {"synthetic": "incident"}),
            objectives=[str(o) for o in doc.get("objectives") or []],
            roles=[{k: str(v) for k, v in r.items()} for r in roles],
            injects=injects,
            questions=[str(q) for q in doc.get("questions") or []],
            targets={str(k): float(v) for k, v in (doc.get("targets") or {}).items()},
            scope=str(doc.get("scope", "")),
            file_sha256=hashlib.sha256(raw).hexdigest(),
        )

    # ------------------------------------------------------------------ clocks
    def now_iso(self) -> str:
        """The exercise clock as RFC 3339: the occurred_at of what the console records."""
        return ids.format_timestamp(round(self.clock() * 1e9))

    def start(self) -> None:
        """Start the exercise clock (idempotent; a resumed exercise keeps its recorded start)."""
        if self.started is None:
            self.started = self.clock()

    def elapsed(self) -> float:
        """Seconds since start (0 before start; frozen once the exercise ended)."""
        if self.started is None:
            return 0.0
        if self.record.ended is not None:
            return self.record.ended.elapsed_ms / 1000
        return max(0.0, self.clock() - self.started)

    def elapsed_ms(self) -> int:
        return round(self.elapsed() * 1000)

    def mark(self, milestone: str) -> bool:
        """Note the first time a panel for a milestone was reached (informational only: the
        timer stops when the facilitator marks the question answered, `answer`)."""
        if self.started is None or milestone in self.marks:
            return False
        self.marks[milestone] = self.elapsed()
        return True

    def answered(self, milestone: str) -> float | None:
        """Seconds at which the milestone was marked answered, None while its timer runs."""
        got = self.record.answers.get(milestone)
        return None if got is None else got.elapsed_ms / 1000

    # ------------------------------------------------------------------ the record
    def resume(self, record: ExerciseRecord) -> None:
        """Continue a recorded exercise: its start (so the clock goes on), scenario run,
        released injects, answers, ratings, discussion and findings."""
        self.record = record
        started = record.started
        if started is None:
            return
        self.started = ids.parse_timestamp(record.started_at) / 1e9
        self.run_id = started.scenario_run_id or self.run_id
        for inject in self.injects:
            got = record.released.get(inject.id)
            inject.released_at = None if got is None else got.elapsed_ms / 1000

    def started_data(self, facilitator: str, run_id: str | None) -> ExerciseStartedData:
        """The `exercise.started` payload: the file's hash and what the report needs of it."""
        scenario = ", ".join(f"{k}: {v}" for k, v in self.scenario.items())
        return ExerciseStartedData(
            name=self.name, title=self.title, file_sha256=self.file_sha256,
            facilitator=facilitator,
            participants=tuple(
                Participant(role=r.get("role", "?") or "?", person=r.get("person", "?") or "?")
                for r in self.roles
            ),
            scenario=scenario, scope=self.scope, objectives=tuple(self.objectives),
            questions=tuple(self.questions),
            injects=tuple(
                ExerciseInject(id=i.id, text=i.text,
                               at_ms=None if i.at_seconds is None else round(i.at_seconds * 1000))
                for i in self.injects
            ),
            targets_ms={k: round(v * 1000) for k, v in self.targets.items() if k in MILESTONES},
            scenario_run_id=run_id,
        )  # fmt: skip

    def apply(self, kind: str, data: Any) -> None:
        """Fold what the console just recorded into the in-memory record."""
        self.record.fold(kind, data, self.now_iso())

    def due_injects(self, who: str = "schedule") -> list[ExerciseInjectData]:
        """Timed injects whose time has come and that are not yet released; releases them."""
        if self.started is None or self.record.ended is not None:
            return []
        now = self.elapsed()
        due = [
            i for i in self.injects
            if i.released_at is None and i.at_seconds is not None and i.at_seconds <= now
        ]  # fmt: skip
        return [self._release(i, who) for i in due]

    def release_next_manual(self, who: str = "facilitator") -> ExerciseInjectData | None:
        """The facilitator releases the next manual inject."""
        for inject in self.injects:
            if inject.released_at is None and inject.at_seconds is None:
                return self._release(inject, who)
        return None

    def _release(self, inject: Inject, who: str) -> ExerciseInjectData:
        inject.released_at = self.elapsed()
        data = ExerciseInjectData(inject_id=inject.id, elapsed_ms=self.elapsed_ms(),
                                  released_by=who)  # fmt: skip
        self.apply("exercise.inject_released", data)
        return data

    def inject_text(self, inject_id: str) -> str:
        return next((i.text for i in self.injects if i.id == inject_id), "")

    def decide(self, who: str, text: str) -> None:
        """Log a decision with its exercise time."""
        self.decisions.append((self.elapsed(), who, text))

    def answer(self, milestone: str, who: str, recorded_by: str) -> ExerciseAnsweredData:
        """Mark a milestone question answered by `who`: its timer stops now."""
        if milestone not in MILESTONES:
            raise ExerciseError(f"unknown milestone {milestone!r}: one of {', '.join(MILESTONES)}")
        if self.started is None:
            raise ExerciseError("the exercise has not started")
        if milestone in self.record.answers:
            raise ExerciseError(f"time-to-{milestone.replace('_', '-')} was already answered")
        data = ExerciseAnsweredData(
            milestone=milestone, answered_by=_who(who), elapsed_ms=self.elapsed_ms(),
            recorded_by=_who(recorded_by),
        )  # fmt: skip
        self.apply("exercise.answered", data)
        return data

    def _number(self, text: str, items: list[str], what: str) -> tuple[int, str]:
        head, _, rest = text.strip().partition(" ")
        if not head.isdigit() or not 1 <= int(head) <= len(items):
            raise ExerciseError(f"start with the {what} number (1-{len(items)})")
        return int(head) - 1, rest.strip()

    def rate(self, line: str, who: str) -> ExerciseRatedData:
        """'N P|S|M|U [reason]': rate objective N on HSEEP's scale."""
        n, rest = self._number(line, self.objectives, "objective")
        rating, _, reason = rest.partition(" ")
        if rating.upper() not in RATINGS:
            raise ExerciseError("rating must be P, S, M or U (HSEEP: performed / some / major "
                                "challenges / unable to be performed)")  # fmt: skip
        data = ExerciseRatedData(objective=n, rating=rating.upper(), reason=reason.strip(),
                                 rated_by=_who(who))  # fmt: skip
        self.apply("exercise.rated", data)
        return data

    def discuss(self, line: str, who: str) -> ExerciseDiscussedData:
        """'N answer…': the team's answer to discussion question N."""
        n, answer = self._number(line, self.questions, "question")
        if not answer:
            raise ExerciseError("type the answer after the question number")
        data = ExerciseDiscussedData(question=n, answer=answer, recorded_by=_who(who))
        self.apply("exercise.discussed", data)
        return data

    def add_finding(self, line: str, who: str = "facilitator") -> ExerciseFindingData:
        """'strength: … #N', 'gap: … #N' or 'action: … @owner by YYYY-MM-DD #N' (#N: the
        objective it is tied to; required for an area for improvement)."""
        kind, _, rest = line.partition(":")
        if kind.strip().lower() not in _FINDING_KINDS:
            raise ExerciseError("start the finding with strength:, gap: or action:")
        owner = m.group(1) if (m := re.search(r"(?:^|\s)@(\S+)", rest)) else ""
        due = m.group(1) if (m := re.search(r"\bby (\d{4}-\d\d-\d\d)\b", rest)) else ""
        objective = None
        if m := re.search(r"(?:^|\s)#(\d+)\b", rest):
            objective, _ = self._number(m.group(1), self.objectives, "objective")
        text = re.sub(r"(?:^|\s)(@\S+|#\d+\b)|\bby \d{4}-\d\d-\d\d\b", "", rest).strip()
        if not text:
            raise ExerciseError("the finding has no text")
        kind = _FINDING_KINDS[kind.strip().lower()]
        if kind == "improvement" and objective is None:
            raise ExerciseError("tie the area for improvement to an objective: add #N")
        data = ExerciseFindingData(kind=kind, text=text, objective=objective, owner=owner,
                                   due=due, recorded_by=_who(who))  # fmt: skip
        self.apply("exercise.finding", data)
        return data

    def end(self, who: str) -> ExerciseEndedData:
        """End the exercise: the clock stops."""
        data = ExerciseEndedData(ended_by=_who(who), elapsed_ms=self.elapsed_ms())
        self.apply("exercise.ended", data)
        return data


def _who(name: str) -> str:
    """A person's name as typed (trimmed); refused when empty."""
    name = name.strip()
    if not name:
        raise ExerciseError("say who: the name is empty")
    return name
