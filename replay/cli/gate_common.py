"""What the `ledger gate` commands share (run, check, compare): their options, defined once so
the three read and document them the same way, and the report, JUnit and exit-code helpers
(one module below the commands, so none of them imports another)."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import input_argument, say
from ledger.errors import InputError
from ledger.terminal import printable

if TYPE_CHECKING:
    from ledger.event_gate import GateResultData, GateVersions
    from ledger.gates import GateRecorded
    from replay.gate.evaluate import AttemptResult, GateReport

__all__ = [
    "JunitAttempt",
    "JunitOption",
    "NoRecordOption",
    "SignWithOption",
    "SuiteArgument",
    "default_user",
    "junit_writer",
    "print_report",
    "record_and_exit",
    "versions_text",
    "write_junit",
]

SuiteArgument = Annotated[Path, input_argument("The suite YAML file.", metavar="SUITE")]
SignWithOption = Annotated[
    str | None,
    typer.Option("--sign-with", metavar="KEY",
                 help="Sign the gate result with this key file or pkcs11: URI (the registry's "
                      "service_key in CI; without one the result is recorded `asserted`)."),
]
JunitOption = Annotated[
    Path | None,
    typer.Option("--junit", metavar="FILE", help="Also write JUnit XML (one testcase per task)."),
]
NoRecordOption = Annotated[
    bool, typer.Option("--no-record", help="Judge and print; record no gate.result event."),
]


def default_user() -> str:
    """`--as` defaults to the login name ($USER), as `ledger stop` does."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def junit_writer() -> Any:
    """replay.gate.junit's `write_junit(path, data, details)` (one testcase per task), looked
    up before any work so a build without it is one line, not a lost result."""
    import importlib

    try:
        return importlib.import_module("replay.gate.junit").write_junit
    except (ModuleNotFoundError, AttributeError):
        raise InputError("--junit: JUnit output is not available in this build") from None


def print_report(report: GateReport) -> None:
    """One line per task (verdict, passed/attempts, first reason) and the decision line."""
    width = max((len(t.task) for t in report.tasks), default=4)
    for task in report.tasks:
        mark = " adversarial" if task.adversarial else ""
        first = f"  {printable(task.reasons[0])}" if task.reasons else ""
        say(f"{task.verdict.upper():<15} {printable(task.task):<{width}}  "
            f"{task.passed}/{task.attempts}{mark}{first}")
    counts = {v: sum(t.verdict == v for t in report.tasks)
              for v in ("pass", "fail", "not_enough_runs")}
    say(f"gate {printable(report.suite.suite)} v{printable(report.suite.version)} "
        f"({report.suite.suite_hash[:12]}): {report.decision.upper()}: "
        f"{counts['pass']} pass, {counts['fail']} fail, "
        f"{counts['not_enough_runs']} not enough runs (min {report.suite.min_repeats})")
    for v in report.versions:  # the runs' (writers') words: each value escaped, \n too
        say(f"  versions: {versions_text(v)}")


def versions_text(v: GateVersions) -> str:
    """`agent NAME@VER prompt P model M policy HASH12`, every value through `printable`
    before it is put into the line (a writer's `\r\n` must not start a line of its own)."""
    return (f"agent {printable(v.agent)}@{printable(v.agent_version or '-')} prompt "
            f"{printable(v.prompt_version or '-')} model {printable(v.model or '-')} policy "
            f"{(v.policy_hash or '-')[:12]}")


def record_and_exit(decision: str) -> None:
    """Exit 0 only on `pass` (1 on `fail` / `not_enough_runs`)."""
    if decision != "pass":
        raise typer.Exit(1)


@dataclass(frozen=True, slots=True)
class JunitAttempt:
    """An attempt as gatecmp's JUnit writer reads it (`run_id` None: it recorded no run)."""

    attempt: int
    run_id: uuid.UUID | None
    passed: bool
    reasons: tuple[str, ...]


def write_junit(path: Path, data: GateResultData, attempts: Sequence[AttemptResult],
                recorded: GateRecorded | None, writer: Any) -> None:
    """JUnit XML through replay.gate.junit `write_junit` (`gate run` and `gate check` alike):
    one testcase per task, its attempts as details (an attempt that recorded no run has no run
    id), the recorded gate.result's id and authority."""
    from replay.gate.runner import NO_RUN

    details: dict[str, list[JunitAttempt]] = {}
    for a in attempts:
        details.setdefault(a.task, []).append(JunitAttempt(
            a.attempt or 0, None if a.run_id == NO_RUN else a.run_id, a.passed, a.reasons))
    if recorded is not None:
        data = data.model_copy(update={"authority": recorded.authority,
                                       "authority_reason": recorded.reason})
    writer(path, data, details, event_id=None if recorded is None else recorded.event_id)
