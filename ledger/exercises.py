"""The tabletop exercise record: an exercise's log folded back (writing: ledger.exercises_write).

Why a ledger service: the TUI's exercise console records, the after-action report (exporters.aar,
`ledger exercise report`, the evidence bundle) reads, and both must agree on one record. Each
event is an operator record, a single-event run in the tenant `exercise-<name>` written through
the write door (sequenced before returning); the fold reads that tenant's exercise events in
`seq` order, so reopening an exercise resumes exactly what was recorded: the first
`exercise.started` sets the clock and the exercise's content, the first answer of a milestone
stops its timer for good, the latest rating of an objective and the latest answer to a question
stand, and findings accumulate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from pydantic import BaseModel

from ledger.config import Settings
from ledger.event_exercise import (
    EXERCISE_EVENT_TYPES,
    ExerciseAnsweredData,
    ExerciseDiscussedData,
    ExerciseEndedData,
    ExerciseFindingData,
    ExerciseInjectData,
    ExerciseRatedData,
    ExerciseStartedData,
)
from ledger.events import decode_event
from ledger.store.read import events_of_types
from ledger.store.runs import EXERCISE_PREFIX

__all__ = ["EXERCISE_NAME", "EXERCISE_PREFIX", "ExerciseRecord", "exercise_tenant", "load_record"]

#: An exercise's name (its file's `name:`): the tenant `exercise-<name>` it plays in.
EXERCISE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def exercise_tenant(name: str) -> str:
    """The exercise's own tenant (and so its own log origin): `exercise-<name>`."""
    return f"{EXERCISE_PREFIX}{name}"


@dataclass
class ExerciseRecord:
    """What the ledger holds about one exercise, folded in `seq` order."""

    name: str
    started: ExerciseStartedData | None = None
    started_at: str = ""  # RFC 3339 of the exercise.started event
    released: dict[str, ExerciseInjectData] = field(default_factory=dict)
    answers: dict[str, ExerciseAnsweredData] = field(default_factory=dict)
    ratings: dict[int, ExerciseRatedData] = field(default_factory=dict)
    discussion: dict[int, ExerciseDiscussedData] = field(default_factory=dict)
    findings: list[ExerciseFindingData] = field(default_factory=list)
    ended: ExerciseEndedData | None = None
    events: int = 0

    @property
    def tenant(self) -> str:
        return exercise_tenant(self.name)

    def fold(self, kind: str, data: BaseModel, occurred_at: str) -> None:
        """Apply one event (the rules in the module docstring)."""
        self.events += 1
        if isinstance(data, ExerciseStartedData):
            if self.started is None:
                self.started, self.started_at = data, occurred_at
        elif isinstance(data, ExerciseInjectData):
            self.released.setdefault(data.inject_id, data)
        elif isinstance(data, ExerciseAnsweredData):
            self.answers.setdefault(data.milestone, data)
        elif isinstance(data, ExerciseRatedData):
            self.ratings[data.objective] = data
        elif isinstance(data, ExerciseDiscussedData):
            self.discussion[data.question] = data
        elif isinstance(data, ExerciseFindingData):
            self.findings.append(data)
        elif isinstance(data, ExerciseEndedData) and self.ended is None:
            self.ended = data


def load_record(conn: psycopg.Connection, settings: Settings, name: str) -> ExerciseRecord:
    """The record of exercise `name` (empty, `started` None, when it was never played)."""
    record = ExerciseRecord(name)
    origin = settings.origin(exercise_tenant(name))
    for _seq, body in events_of_types(conn, origin, EXERCISE_EVENT_TYPES):
        event = decode_event(body)
        record.fold(event.type, event.data, event.occurred_at)
    return record
