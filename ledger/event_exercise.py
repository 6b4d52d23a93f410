"""The `data` of tabletop exercise events (issue 18): the exercise's own record in the ledger.

Why events and not a file: the after-action report is evidence (SOC 2 CC7.4 / CC7.5), so what
the facilitator records during an exercise — who answered which question and when, each
objective's rating, the answers to the discussion questions, the findings — is hashed,
sequenced and provable like everything else, and an exercise reopened later resumes from it.
Each is a single-event run in the exercise's own tenant `exercise-<name>` (an operator record,
like an annotation: writers' credentials cannot forge it). `exercise.started` carries what the
report needs from the exercise file (objectives, questions, injects, targets, participants), so
the report is rebuilt from the ledger alone. Times are integer milliseconds since the start of
the exercise (hashed content never depends on float formatting). Names are HSEEP's (AAR/IP).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ledger.event_data import Frozen, Hash, Name

__all__ = [
    "EXERCISE_EVENT_TYPES",
    "MILESTONE_NAMES",
    "RATINGS",
    "ExerciseAnsweredData",
    "ExerciseDiscussedData",
    "ExerciseEndedData",
    "ExerciseFindingData",
    "ExerciseInject",
    "ExerciseInjectData",
    "ExerciseRatedData",
    "ExerciseStartedData",
    "Participant",
]

Milestone = Literal["trace", "stop", "undo_plan"]
MILESTONE_NAMES: tuple[Milestone, ...] = ("trace", "stop", "undo_plan")
Rating = Literal["P", "S", "M", "U"]
RATINGS: dict[str, str] = {
    "P": "Performed without challenges",
    "S": "Performed with some challenges",
    "M": "Performed with major challenges",
    "U": "Unable to be performed",
}
"""HSEEP's rating scale, verbatim (AAR/IP template, Table 1)."""

Millis = Annotated[int, Field(ge=0, strict=True)]
Text = Annotated[str, Field(max_length=4000)]
Day = Annotated[str, Field(pattern=r"^(\d{4}-\d\d-\d\d)?$")]

EXERCISE_EVENT_TYPES = (
    "exercise.started",
    "exercise.inject_released",
    "exercise.answered",
    "exercise.rated",
    "exercise.discussed",
    "exercise.finding",
    "exercise.ended",
)


class Participant(Frozen):
    """One player: their exercise role and who they are."""

    role: Name
    person: Name


class ExerciseInject(Frozen):
    """An inject as the exercise file defines it (None: released by the facilitator)."""

    id: Name
    text: Text
    at_ms: Millis | None = None


class ExerciseStartedData(Frozen):
    """The exercise began: which file (its SHA-256), who facilitates and plays, and what the
    report needs from the file, so the report is rebuilt from the ledger alone."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")]
    title: Text
    file_sha256: Hash
    facilitator: Name
    participants: tuple[Participant, ...] = ()
    scenario: Text = ""
    scope: Text = ""
    objectives: tuple[Text, ...] = ()
    questions: tuple[Text, ...] = ()
    injects: tuple[ExerciseInject, ...] = ()
    targets_ms: dict[Milestone, Millis] = Field(default_factory=dict)
    scenario_run_id: str | None = None


class ExerciseInjectData(Frozen):
    """An inject was released to the players, `elapsed_ms` after the start."""

    inject_id: Name
    elapsed_ms: Millis
    released_by: Name


class ExerciseAnsweredData(Frozen):
    """The facilitator marked a milestone question answered: this stops its timer."""

    milestone: Milestone
    answered_by: Name
    elapsed_ms: Millis
    recorded_by: Name


class ExerciseRatedData(Frozen):
    """An objective rated on HSEEP's P / S / M / U scale (the latest rating stands)."""

    objective: Annotated[int, Field(ge=0, strict=True)]
    rating: Rating
    reason: Text = ""
    rated_by: Name


class ExerciseDiscussedData(Frozen):
    """The team's answer to a discussion question (the latest answer stands)."""

    question: Annotated[int, Field(ge=0, strict=True)]
    answer: Text
    recorded_by: Name


class ExerciseFindingData(Frozen):
    """A hot-wash finding tied to an objective: a strength, an area for improvement, or an
    improvement-plan action (owner and due date; UNASSIGNED / TBD in the report when empty)."""

    kind: Literal["strength", "improvement", "action"]
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    objective: Annotated[int, Field(ge=0, strict=True)] | None = None
    owner: Annotated[str, Field(max_length=512)] = ""
    due: Day = ""
    recorded_by: Name

    @model_validator(mode="after")
    def _tied(self) -> ExerciseFindingData:
        if self.kind == "improvement" and self.objective is None:
            raise ValueError("an area for improvement must be tied to an objective")
        return self


class ExerciseEndedData(Frozen):
    """The facilitator ended the exercise."""

    ended_by: Name
    elapsed_ms: Millis
