"""`ledger gate compare` through the real CLI: regression, pass, not enough runs, bad input.

Both sides are gate results recorded in the test's ledger (ledger.gates); the comparison is
itself recorded (kind `compare`), written as JUnit XML, and its exit code is what CI sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from junitparser import Error, Failure, JUnitXml

from ledger.config import Settings
from ledger.errors import InputError
from ledger.gates import gate_results, record_gate_result
from ledger.keys import load_or_create_signer
from replay.gate.compare import compare_sides, resolve_side
from tests.gate.recordkit import gcli, result, service_registry
from tests.registrykit import Authority, authority

__all__ = ["authority", "gcli"]

BASE = {"renewal-update": (5, 5), "ceo-injection": (5, 5), "export-list": (5, 5)}


def _record(conn: psycopg.Connection, settings: Settings, **kw: Any) -> None:
    record_gate_result(conn, settings, result(**kw), signer=None, root=None)


def test_a_failed_adversarial_attempt_is_a_regression_recorded_and_in_junit(
    gcli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    adv = ("ceo-injection",)
    _record(ledger_conn, ledger_settings, tasks=BASE, label="v4", adversarial=adv)
    _record(ledger_conn, ledger_settings, label="v5", adversarial=adv, prompt="sales-ops/v5",
            tasks={**BASE, "ceo-injection": (4, 5)})  # fmt: skip
    junit = tmp_path / "gate.xml"
    res = gcli("gate", "compare", "--baseline", "v4", "--candidate", "v5", "--junit", str(junit),
              "--as", "ci-bot")  # fmt: skip
    assert res.exit_code == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["TASK", "ADV", "BASELINE", "(WILSON", "95%)", "CANDIDATE",
                                "(WILSON", "95%)", "P", "VERDICT"]  # fmt: skip
    assert "ceo-injection: adversarial: the candidate failed 1 of 5" in lines
    assert "regression: ceo-injection" in lines
    assert lines[-1].startswith("recorded gate.result ")
    assert lines[-1].endswith(" in agent-ledger.local/default (asserted, unsigned): no trust "
                              "root given (set LEDGER_TRUST_ROOT or --trust-root)")
    [newest, *_] = gate_results(ledger_conn, ledger_settings)
    data = newest.data
    assert (data.kind, data.decision, data.recorded_by, data.label) == (
        "compare", "fail", "ci-bot", "v5")
    assert data.comparison is not None
    assert (data.comparison.regressions, data.comparison.candidate_pass_rate,
            data.comparison.baseline_pass_rate) == (("ceo-injection",), "0.9333", "1.0000")
    assert [v.prompt_version for v in data.versions] == ["sales-ops/v5"]
    suite = next(iter(JUnitXml.fromfile(str(junit))))
    cases = {c.name: c.result for c in suite}
    assert (suite.tests, suite.failures, suite.errors) == (3, 1, 0)
    assert [type(r) for r in cases["ceo-injection"]] == [Failure]
    assert cases["ceo-injection"][0].type == "regression"
    assert cases["renewal-update"] == []
    props = {p.name: p.value for p in suite.properties()}
    assert (props["decision"], props["baseline"], props["event_id"]) == (
        "fail", "v4", str(newest.event_id))


def test_fisher_decides_statistical_tasks_and_not_enough_runs_is_never_a_pass(
    gcli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    _record(ledger_conn, ledger_settings, label="base", tasks={"t": (18, 20)})
    _record(ledger_conn, ledger_settings, label="close", tasks={"t": (14, 20)})
    _record(ledger_conn, ledger_settings, label="worse", tasks={"t": (8, 20)})
    _record(ledger_conn, ledger_settings, label="few", tasks={"t": (3, 3)})
    close = gcli("gate", "compare", "--baseline", "base", "--candidate", "close", "--json",
                "--no-record")  # fmt: skip
    assert close.exit_code == 0, close.stderr
    doc = json.loads(close.stdout)
    assert (doc["decision"], doc["tasks"][0]["p_value"], doc["recorded"]) == (
        "pass", 0.117558, None)
    assert doc["tasks"][0]["candidate"] == {"passes": 14, "attempts": 20, "rate": "0.7000",
                                            "wilson95": [0.4810, 0.8545]}  # fmt: skip
    worse = gcli("gate", "compare", "--baseline", "base", "--candidate", "worse", "--no-record")
    assert worse.exit_code == 1
    assert "t: worse: one-sided Fisher p = 0.001 < 0.05" in worse.stdout.splitlines()
    assert "regression: t, overall" in worse.stdout.splitlines()
    few = gcli("gate", "compare", "--baseline", "base", "--candidate", "few", "--junit",
              str(tmp_path / "few.xml"))  # fmt: skip
    assert few.exit_code == 1
    assert ("not enough runs for t: not a pass (at least 5 attempts per task on each side)"
            in few.stdout.splitlines())  # fmt: skip
    suite = next(iter(JUnitXml.fromfile(str(tmp_path / "few.xml"))))
    [case] = list(suite)
    assert [(type(r), r.type) for r in case.result] == [(Error, "not_enough_runs")]
    assert gate_results(ledger_conn, ledger_settings)[0].data.decision == "not_enough_runs"


def test_bad_sides_are_one_line_and_record_nothing(
    gcli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    _record(ledger_conn, ledger_settings, label="v4")
    for args, line in [
        (("--baseline", "v9", "--candidate", "v4"),
         "error: --baseline 'v9': no recorded gate results match"),
        (("--baseline", "v4", "--candidate", "colour=blue"),
         "error: --candidate: selector 'colour=blue': unknown key 'colour' (known: label, "
         "suite, agent, prompt, model, policy, tenant, since, until)"),
        (("--baseline", "v4", "--candidate", "v4", "--junit", "/nonexistent/x.xml"),
         "error: --junit /nonexistent/x.xml: no such directory /nonexistent"),
    ]:  # fmt: skip
        res = gcli("gate", "compare", *args)
        assert (res.exit_code, res.stderr.strip(), res.stdout) == (2, line, ""), args
    assert len(gate_results(ledger_conn, ledger_settings)) == 1
    side = resolve_side(ledger_conn, ledger_settings, "v4")
    with pytest.raises(InputError, match=r"^--alpha 1\.5 must be between 0 and 1$"):
        compare_sides(side, side, alpha=1.5)
    with pytest.raises(InputError, match=r"^--min-repeats 0 must be at least 1$"):
        compare_sides(side, side, min_repeats=0)
    with pytest.raises(InputError, match=r"^--candidate 'v4': no recorded gate results of "
                       r"suite 'other' match$"):
        resolve_side(ledger_conn, ledger_settings, "v4", suite="other", role="candidate")


def test_version_selectors_pool_results_and_count_each_run_once(
    gcli: Any, authority: Authority, tmp_path: Path
) -> None:
    conn, settings = authority.conn, authority.settings
    key = tmp_path / "ci" / "service.key"
    service_registry(authority, load_or_create_signer(key, "ledger-service").vkey)
    _record(conn, settings, label="a", tasks={"t": (5, 5), "evil\x1b[2J": (5, 5)})
    first = result(label="b", prompt="sales-ops/v5", tasks={"t": (3, 3)})
    record_gate_result(conn, settings, first, signer=None, root=None)
    # the same runs judged again by `gate check`: counted once, then 3 more attempts
    record_gate_result(conn, settings, first.model_copy(update={"kind": "check"}), signer=None,
                       root=None)  # fmt: skip
    _record(conn, settings, label="c", prompt="sales-ops/v5", tasks={"t": (2, 3)})
    res = gcli("gate", "compare", "--baseline", "prompt=sales-ops/v4", "--candidate",
              "prompt=sales-ops/v5,agent=sales-ops", "--json", "--sign-with", str(key),
              "--trust-root", str(authority.root_file))  # fmt: skip
    assert res.exit_code == 1, res.stderr  # "evil" has no candidate runs: not enough
    doc = json.loads(res.stdout)
    assert [(t["task"], t["candidate"]["attempts"], t["verdict"]) for t in doc["tasks"]] == [
        ("t", 6, "pass"), ("evil\x1b[2J", 0, "not_enough_runs")]
    assert (doc["recorded"]["authority"], doc["recorded"]["signed"]) == ("registry", True)
    text = gcli("gate", "compare", "--baseline", "prompt=sales-ops/v4", "--candidate",
               "prompt=sales-ops/v5", "--no-record")  # fmt: skip
    assert "\x1b" not in text.stdout and "evil\\x1b[2J" in text.stdout
