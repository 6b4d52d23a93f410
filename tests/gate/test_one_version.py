"""A gate result judges one version (walk-through #5 of issue 19).

`gate check` over runs recorded under two prompt versions refuses in one line (exit 2, nothing
recorded) and says how to narrow; narrowed, each version gets its own result. `gate compare`
and `ledger versions` never credit a result that mixed versions (one recorded before the
refusal existed) to either version, and a side's `since`/`until` bound when results were
recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.event_gate import GateVersions
from ledger.gates import gate_results, record_gate_result
from ledger.hooks.writer import Writer
from tests.gate.checkkit import good_set, record_all, run_cli, suite_file, writer_for
from tests.gate.recordkit import result


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    yield writer_for(ledger_settings)
    hooks.shutdown()


def test_gate_check_refuses_runs_of_two_versions_and_judges_each_narrowed(
    writer: Writer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    v1 = [replace(a, prompt="sales-ops/v1") for a in good_set("nightly")]
    v2 = [replace(a, prompt="sales-ops/v2") for a in good_set("nightly")]
    record_all(v1 + v2)
    path = str(suite_file(tmp_path))
    mixed = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check", path, "--runs",
                    "nightly")
    assert (mixed.exit_code, mixed.stdout) == (2, "")
    assert mixed.stderr == (
        "error: the runs judged were recorded under 2 versions (prompt_version 'sales-ops/v1', "
        "'sales-ops/v2'): a gate result judges one version; narrow --runs "
        "(prompt=NAME/VERSION)\n")
    assert gate_results(ledger_conn, ledger_settings) == []
    for prompt in ("sales-ops/v1", "sales-ops/v2"):
        one = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check", path, "--runs",
                      f"nightly,prompt={prompt}", "--json")
        assert one.exit_code == 0, one.stderr
        assert [v["prompt_version"] for v in json.loads(one.stdout)["versions"]] == [prompt]
    found = gate_results(ledger_conn, ledger_settings)
    assert [[v.prompt_version for v in g.data.versions] for g in found] == [
        ["sales-ops/v2"], ["sales-ops/v1"]]


def test_compare_and_versions_never_credit_a_mixed_result(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    def rec(data: object) -> None:
        record_gate_result(ledger_conn, ledger_settings, data, signer=None, root=None)  # type: ignore[arg-type]

    tasks = {"renewal-update": (5, 5)}
    rec(result(tasks, label="a1", prompt="sales-ops/v1"))
    other = GateVersions(agent="sales-ops", agent_version="1.0", prompt_version="sales-ops/v1",
                         model="scripted-1")
    mixed = result({"renewal-update": (10, 10)}, label="nightly", prompt="sales-ops/v2")
    rec(mixed.model_copy(update={"versions": (*mixed.versions, other)}))
    rec(result({"renewal-update": (0, 5)}, label="a2", prompt="sales-ops/v2"))
    cmp = run_cli(monkeypatch, capsys, ledger_settings, "gate", "compare", "--baseline", "a1",
                  "--candidate", "prompt=sales-ops/v2", "--no-record", "--json")
    assert cmp.exit_code == 1, cmp.stderr
    out = json.loads(cmp.stdout)
    ids = {g.data.label: str(g.event_id) for g in gate_results(ledger_conn, ledger_settings)}
    assert out["candidate_results"] == [ids["a2"]]  # not the nightly mix of v1 and v2
    assert out["tasks"][0]["candidate"]["attempts"] == 5 and out["decision"] == "fail"
    late = run_cli(monkeypatch, capsys, ledger_settings, "gate", "compare", "--baseline", "a1",
                   "--candidate", "prompt=sales-ops/v2,since=2099-01-01", "--no-record")
    assert (late.exit_code, late.stderr) == (
        2, "error: --candidate 'prompt=sales-ops/v2,since=2099-01-01': no recorded gate results "
           "match\n")
