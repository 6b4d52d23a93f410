"""replay.gate.junit: xunit2-shaped JUnit XML (reference §5), read back with junitparser.

Rules checked: testsuites > testsuite(name tests failures errors skipped time timestamp
hostname) > properties + one testcase(classname name time) per task; at most one of failure /
error per case (failure = criterion not met, error = could not judge); no per-case properties;
counts agree; text XML 1.0 cannot carry is escaped, never written raw.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from junitparser import Error, Failure, JUnitXml

from ledger.event_gate import GateComparison, GateTaskOutcome
from replay.gate.junit import junit_xml, write_junit
from tests.gate.recordkit import result


@dataclass(frozen=True)
class Attempt:
    attempt: int
    run_id: uuid.UUID | None
    passed: bool
    reasons: tuple[str, ...] = ()


def test_one_testcase_per_task_failure_vs_error_and_suite_properties(tmp_path: Path) -> None:
    data = result({"ok": (5, 5), "flaky": (3, 5), "short": (2, 2)}, label="v5")
    errored = GateTaskOutcome(task="crashes", attempts=5, passed=0, failed=0, errored=5,
                              verdict="fail", reasons=("could not run: ImportError",) * 5)
    data = data.model_copy(update={"tasks": (*data.tasks, errored)})
    run = uuid.uuid4()
    details = {"flaky": [Attempt(0, run, False, ("expectation 'updated the field' not met",))]}
    path = tmp_path / "out.xml"
    event = uuid.uuid4()
    write_junit(path, data, details, event_id=event)
    xml = JUnitXml.fromfile(str(path))
    [suite] = list(xml)
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == (
        "demo-sales-ops", 4, 1, 2, 0)
    assert (xml.tests, xml.failures, xml.errors) == (4, 1, 2)
    cases = {c.name: c for c in suite}
    assert [cases[n].classname for n in cases] == ["gate.demo-sales-ops.run"] * 4
    kinds = {n: [(type(r), r.type) for r in c.result] for n, c in cases.items()}
    assert kinds == {"ok": [], "flaky": [(Failure, "criterion_not_met")],
                     "short": [(Error, "not_enough_runs")], "crashes": [(Error, "errored")]}
    assert cases["flaky"].result[0].message == "3/5 passed: expectation not met; " \
        "expectation not met"
    out = json.loads(cases["flaky"].system_out)
    assert (out["attempts"], out["passed"], out["details"]) == (5, 3, [{
        "attempt": 0, "run_id": str(run), "passed": False,
        "reasons": ["expectation 'updated the field' not met"]}])
    props = {p.name: p.value for p in suite.properties()}
    assert (props["suite_hash"], props["decision"], props["label"], props["event_id"]) == (
        "ab" * 32, "fail", "v5", str(event))
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    tree = root.find("testsuite")
    assert tree is not None
    assert {"name", "tests", "failures", "errors", "skipped", "time", "timestamp",
            "hostname"} <= set(tree.attrib)  # fmt: skip
    for case in tree.iter("testcase"):
        assert set(case.attrib) == {"classname", "name", "time"}
        assert case.find("properties") is None
        assert len([c for c in case if c.tag in ("failure", "error", "skipped")]) <= 1


def test_comparison_regressions_and_hostile_text_stay_valid_xml() -> None:
    comparison = GateComparison(baseline="v4", candidate="prompt=sales-ops/v5",
                                regressions=("overall",))  # fmt: skip
    data = result({"bad\x1b[2J\x00name": (5, 5)}, kind="compare", comparison=comparison)
    doc = junit_xml(data)
    assert b"\x1b" not in doc and b"\x00" not in doc
    root = ET.fromstring(doc)  # well-formed despite the control characters
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["bad\\u001b[2J\\u0000name", "overall"]
    [overall] = [c for c in root.iter("testcase") if c.get("name") == "overall"]
    failure = overall.find("failure")
    assert failure is not None and failure.get("type") == "regression"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props["candidate"], props["regressions"], props["kind"]) == (
        "prompt=sales-ops/v5", "overall", "compare")
