"""JUnit XML of a gate result, for CI (`ledger gate run|check|compare --junit FILE`).

Why this shape: every CI system (GitHub Actions test reporters, GitLab `artifacts:reports:junit`,
Jenkins) reads pytest's `xunit2` family, so the file follows it exactly (reference §5):
`<testsuites><testsuite name tests failures errors skipped time timestamp hostname>` with suite
`<properties>` (per-case properties break xunit2), one `<testcase classname name time>` per task
holding at most one `<failure>` (a criterion not met: an expectation, a budget, a policy rule, a
regression) or `<error>` (could not judge: every failing attempt errored, or not enough runs,
which is never a pass), and the task's counts, run ids and per-attempt details as JSON in
`<system-out>`. Text from recorded runs (task names, reasons) may hold anything: characters XML
1.0 cannot carry are written as `\\uXXXX`, never raw.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree as ET

import orjson

from ledger.event_gate import GateResultData, GateTaskOutcome

__all__ = ["AttemptDetail", "junit_xml", "write_junit"]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class AttemptDetail(Protocol):
    """One attempt of a task as evaluated (gatesuite's report details fit this shape)."""

    @property
    def attempt(self) -> int: ...
    @property
    def run_id(self) -> uuid.UUID | None: ...
    @property
    def passed(self) -> bool: ...
    @property
    def reasons(self) -> Sequence[str]: ...


def _x(text: object) -> str:
    """Text XML 1.0 can carry: other characters become `\\uXXXX`."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def _properties(data: GateResultData, event_id: uuid.UUID | None) -> dict[str, str]:
    """The suite properties: what was judged, under what authority, recorded as which event."""
    props = {
        "kind": data.kind, "suite": data.suite, "suite_version": data.suite_version or "",
        "suite_hash": data.suite_hash, "label": data.label or "", "decision": data.decision,
        "recorded_by": data.recorded_by, "authority": data.authority or "",
        "versions": orjson.dumps([v.model_dump(mode="json") for v in data.versions]).decode(),
        "event_id": str(event_id) if event_id else "",
    }  # fmt: skip
    if data.comparison is not None:
        c = data.comparison
        props.update({"baseline": c.baseline, "candidate": c.candidate, "alpha": c.alpha,
                      "min_repeats": str(c.min_repeats), "regressions": ",".join(c.regressions)})
    return props


def _outcome(case: ET.Element, task: GateTaskOutcome) -> str | None:
    """Add the task's <failure> or <error> (none when it passed); its kind."""
    reasons = "; ".join(task.reasons) or task.verdict
    if task.verdict == "pass":
        return None
    if task.verdict == "not_enough_runs":
        tag, kind = "error", "not_enough_runs"
    elif task.failed == 0 and task.errored > 0:
        tag, kind = "error", "errored"
    else:
        regression = reasons.startswith(("worse", "adversarial"))
        tag, kind = "failure", "regression" if regression else "criterion_not_met"
    counts = f"{task.passed}/{task.attempts} passed"
    ET.SubElement(case, tag, message=_x(f"{counts}: {reasons}"[:2000]), type=kind).text = _x(
        "\n".join(task.reasons))
    return tag


def _case(
    suite: ET.Element, classname: str, task: GateTaskOutcome, details: Sequence[AttemptDetail]
) -> str | None:
    """One <testcase> for a task; its outcome tag."""
    case = ET.SubElement(suite, "testcase", classname=_x(classname), name=_x(task.task),
                         time="0")  # fmt: skip
    tag = _outcome(case, task)
    body = {
        "adversarial": task.adversarial, "attempts": task.attempts, "passed": task.passed,
        "failed": task.failed, "errored": task.errored, "verdict": task.verdict,
        "run_ids": [str(r) for r in task.run_ids],
        "details": [{"attempt": d.attempt, "run_id": str(d.run_id) if d.run_id else None,
                     "passed": d.passed, "reasons": list(d.reasons)} for d in details],
    }  # fmt: skip
    ET.SubElement(case, "system-out").text = _x(orjson.dumps(body).decode())
    return tag


def junit_xml(
    data: GateResultData,
    details: Mapping[str, Sequence[AttemptDetail]] | None = None,
    *,
    event_id: uuid.UUID | None = None,
) -> bytes:
    """The JUnit XML document of a gate result (one testsuite, a testcase per task)."""
    tasks = list(data.tasks)
    if data.comparison is not None and "overall" in data.comparison.regressions:
        overall = GateTaskOutcome(task="overall", attempts=0, passed=0, failed=0,
                                  verdict="fail", reasons=("worse overall",))  # fmt: skip
        tasks.append(overall)
    stamp = data.issued_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    root = ET.Element("testsuites", name="agent-ledger gate")
    suite = ET.SubElement(root, "testsuite", name=_x(data.suite), timestamp=stamp,
                          hostname=_x(socket.gethostname()), time="0")  # fmt: skip
    props = ET.SubElement(suite, "properties")
    for name, value in _properties(data, event_id).items():
        ET.SubElement(props, "property", name=name, value=_x(value))
    tags = [_case(suite, f"gate.{data.suite}.{data.kind}", t, (details or {}).get(t.task, ()))
            for t in tasks]  # fmt: skip
    counts = {"tests": len(tasks), "failures": tags.count("failure"),
              "errors": tags.count("error"), "skipped": 0, "time": 0}  # fmt: skip
    for element in (root, suite):
        for key, count in counts.items():
            element.set(key, str(count))
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def write_junit(
    path: Path,
    data: GateResultData,
    details: Mapping[str, Sequence[AttemptDetail]] | None = None,
    *,
    event_id: uuid.UUID | None = None,
) -> None:
    """Write junit_xml to `path` (replaced atomically: CI never reads half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(junit_xml(data, details, event_id=event_id))
    tmp.replace(path)
