"""After-action report shape (HSEEP AAR/IP) from a recorded exercise, and hostile text in it.

No database: the record is folded from the same event payloads the console writes
(tui.exercise.Exercise builds them), so these tests pin the document, not the storage.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from exporters.aar import aar_markdown
from ledger.errors import InputError
from ledger.event_exercise import ExerciseFindingData
from ledger.exercises import ExerciseRecord
from tui.exercise import Exercise, ExerciseError

EXERCISE = Path(__file__).resolve().parents[2] / "tui" / "exercises" / "inbox-injection.yaml"
HOSTILE = "fine\n# OK [x](javascript:alert(1)) <script>alert(1)</script> | *b* \x1b]52;c;AAAA\x07"


class Clock:
    """A hand-driven wall clock (seconds) so exercise times are exact."""

    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


def played(
    answer: str = "the email at seq 3", finding: str = "gap: no refund approval #2"
) -> Exercise:
    """An exercise played in memory: started, injects, answers, ratings, findings, ended."""
    ex, clock = Exercise.load(EXERCISE), Clock()
    ex.clock = clock
    ex.start()
    ex.record.fold("exercise.started", ex.started_data("dana", "run-1"), ex.now_iso())
    clock.now += 130
    assert [d.inject_id for d in ex.due_injects()] == ["I1", "I2"]
    clock.now += 10
    ex.answer("trace", "alice", "dana")
    clock.now += 400
    ex.answer("stop", "farid", "dana")
    assert ex.release_next_manual("dana") is not None
    ex.rate("1 P traced from the signed chain", "dana")
    ex.rate("2 M", "dana")
    ex.rate("2 S two people needed to find the stop key", "dana")  # the latest rating stands
    ex.discuss(f"1 {answer}", "dana")
    ex.add_finding("strength: chain verified before trusting the trace #1", "dana")
    ex.add_finding(finding, "dana")
    ex.add_finding("action: require approval for refunds > 500 @farid by 2026-12-15 #2", "dana")
    ex.add_finding("action: write the recall runbook", "dana")
    ex.end("dana")
    return ex


def test_report_has_every_hseep_section_in_order() -> None:
    report = aar_markdown(played().record)
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert headings[0].startswith("# After-Action Report / Improvement Plan: Inbox prompt")
    order = [
        "## Exercise Overview",
        "## Participants and Facilitator",
        "## Analysis of Objectives",
        "## Strengths and Areas for Improvement not tied to one objective",
        "## Measured Times",
        "## Injects",
        "## Discussion Questions",
        "## Appendix A: Improvement Plan",
        "## Appendix B: Participants",
    ]
    assert [h for h in headings if h in order] == order
    assert "| Facilitator | dana |" in report
    assert "- finance on-call: Farid (finance-oncall)" in report
    assert "| Scope | Discussion-based tabletop" in report
    assert "(ended)" in report


def test_objectives_rated_and_findings_tied_to_them() -> None:
    report = aar_markdown(played().record)
    rows = [line for line in report.splitlines() if line.startswith(("| 1. ", "| 2. ", "| 3. "))]
    assert rows[0].endswith("| X |  |  |  |")  # objective 1: P
    assert rows[1].endswith("|  | X |  |  |")  # objective 2: S (the latest rating)
    assert rows[2].endswith("|  |  |  |  |")  # objective 3: not rated
    assert "- Rating: Performed with some challenges (S), by dana: two people needed" in report
    assert "- Rating: NOT RATED" in report  # objectives 3 and 4
    section2 = report.split("### Objective 2.")[1].split("### Objective 3.")[0]
    assert "#### Areas for Improvement\n\n- no refund approval (recorded by dana)" in section2
    section1 = report.split("### Objective 1.")[1].split("### Objective 2.")[0]
    assert "- chain verified before trusting the trace (recorded by dana)" in section1


def test_times_injects_answers_and_improvement_plan() -> None:
    report = aar_markdown(played().record)
    assert "| time-to-trace | T+140s | alice | 300s | yes |" in report
    assert "| time-to-stop | T+540s | farid | 600s | yes |" in report
    assert "| time-to-undo-plan | not answered | - | 900s | - |" in report
    assert "| I2 | T+120s | T+130s | schedule | outside-partner.example" in report
    assert "| I3 | manual | T+540s | dana | Key person unavailable" in report
    assert "| I4 | manual | not released | - |" in report
    assert "   - Answer: the email at seq 3 (recorded by dana)" in report
    assert "   - Answer: no answer recorded" in report
    assert "| 2. Decide who may stop" in report
    assert "| require approval for refunds > 500 | farid | 2026-12-15 |" in report
    assert "| (no objective) | write the recall runbook | UNASSIGNED | TBD |" in report


def test_attacker_text_in_answers_and_findings_is_inert() -> None:
    report = aar_markdown(played(answer=HOSTILE, finding=f"gap: {HOSTILE} #2").record)
    assert not any(line.startswith("# OK") for line in report.splitlines())
    assert "<script>" not in report and "\x1b" not in report and "\n# OK" not in report
    assert not re.search(r"(?<!\\)\]\(javascript:", report)  # the link brackets are escaped
    assert "fine\\\\x0a# OK \\[x\\](javascript:alert(1)) &lt;script>" in report
    # a table row keeps its columns: the `|` typed by the attacker is escaped
    for line in report.splitlines():
        if line.startswith("| ") and "Answer" not in line:
            assert len(re.findall(r"(?<!\\)\|", line)) in {3, 5, 6, 7}, line


def test_nothing_recorded_is_refused_not_an_empty_report() -> None:
    with pytest.raises(InputError, match="no exercise 'drill' recorded in the ledger"):
        aar_markdown(ExerciseRecord("drill"))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (lambda ex: ex.rate("9 P", "d"), "start with the objective number (1-4)"),
        (lambda ex: ex.rate("1 X", "d"), "rating must be P, S, M or U"),
        (lambda ex: ex.discuss("1", "d"), "type the answer after the question number"),
        (lambda ex: ex.add_finding("gap: no approval", "d"), "tie the area for improvement"),
        (lambda ex: ex.add_finding("idea: x", "d"), "start the finding with strength:"),
        (lambda ex: ex.answer("undo_plan", "  ", "d"), "say who: the name is empty"),
        (lambda ex: ex.answer("trace", "bob", "d"), "time-to-trace was already answered"),
    ],
)
def test_facilitator_mistakes_are_one_line_refusals(entry: object, message: str) -> None:
    ex = played()
    before = len(ex.record.findings), dict(ex.record.ratings)
    with pytest.raises(ExerciseError, match=re.escape(message)):
        entry(ex)  # type: ignore[operator]
    assert (len(ex.record.findings), dict(ex.record.ratings)) == before


def test_improvement_without_objective_is_an_invalid_event() -> None:
    with pytest.raises(ValidationError, match="tied to an objective"):
        ExerciseFindingData(kind="improvement", text="x", recorded_by="d")
