"""A gate's attempts are test traffic, not production activity, in the evidence bundle
(walk-through #12 of issue 19).

Runs a recorded gate.result lists as its evidence are left out of the CC6 populations (tool
calls, approvals with SoD, side effects, failed calls) and out of the approvals the verifier
judges; CC8.1 `gate_results.csv` counts them as that result's `evidence_runs`. A writer that
tags its own production runs as gate attempts (no gate.result judged them) hides nothing. The
shipped SQL re-derives the same rows in DuckDB and SQLite, and `verify-bundle` re-derives
every population from the bundle alone."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest

import ledger.hooks as hooks
from exporters.bundle import ExportParams, export_bundle
from exporters.bundle_verify import verify_bundle
from exporters.populations import POPULATIONS
from ledger import ids
from ledger.config import Settings
from ledger.hooks.writer import Writer
from tests.gate.checkkit import (
    SUITE,
    Attempt,
    good_set,
    record_all,
    run_cli,
    suite_file,
    writer_for,
)

POPS = {p.id: p for p in POPULATIONS}


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    yield writer_for(ledger_settings)
    hooks.shutdown()


def _csv(out: Path, pop: str) -> list[dict[str, str]]:
    with (out / POPS[pop].path).open() as f:
        return list(csv.DictReader(f))


def _sql_rows(out: Path, pop: str) -> tuple[list[str], list[str]]:
    """The population's run ids as its shipped SQL re-derives them: (DuckDB, SQLite)."""
    events = out / "ledger/events.parquet"
    duck = duckdb.connect()
    duck.execute(f"CREATE VIEW events AS SELECT * FROM '{events}'")
    table = pq.read_table(events)
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE events ({', '.join(table.column_names)})")
    db.executemany(f"INSERT INTO events VALUES ({', '.join('?' * table.num_columns)})",
                   [tuple(r.values()) for r in table.to_pylist()])  # fmt: skip
    sql = POPS[pop].sql
    return [str(r[2]) for r in duck.execute(sql).fetchall()], [r[2] for r in db.execute(sql)]


def test_gate_attempts_are_cc81_evidence_not_cc6_activity(
    writer: Writer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    since = ids.format_timestamp(time.time_ns() - 10**9)
    approve = "crm.update_field"
    gate_runs = record_all([replace(good_set()[0], approve=approve), *good_set()[1:]])
    judged = run_cli(monkeypatch, capsys, ledger_settings, "gate", "check",
                     str(suite_file(tmp_path)), "--runs", "v4", "--as", "ci")
    assert judged.exit_code == 0, judged.stdout + judged.stderr
    production = record_all([
        Attempt(task=None, label=None, approve=approve),  # a real approval in production
        # a writer's tag on a production run: no gate.result lists it, so it stays in CC6
        Attempt(gate={"suite": SUITE, "task": "renewal-update", "attempt": 9, "label": "x",
                      "suite_hash": "0" * 64}),
    ])
    out = tmp_path / "bundle"
    until = ids.format_timestamp(time.time_ns() + 3600 * 10**9)
    export_bundle(ledger_conn, ledger_settings,
                  ExportParams(since=since, until=until, out=out, record=False))
    wanted = [str(r) for r in production]
    calls = [r["run_id"] for r in _csv(out, "tool_calls_by_identity")]
    assert sorted(set(calls)) == sorted(wanted) and not set(calls) & {str(r) for r in gate_runs}
    assert [r["run_id"] for r in _csv(out, "approvals_sod")] == [wanted[0]]
    for pop in ("tool_calls_by_identity", "approvals_sod"):
        duck, lite = _sql_rows(out, pop)
        assert duck == lite == [r["run_id"] for r in _csv(out, pop)]
    [gate] = _csv(out, "gate_results")
    assert (gate["decision"], gate["evidence_runs"]) == ("pass", "4")
    report = verify_bundle(out, None, None)
    assert report.valid, [p.line() for p in report.problems]
    auth = report.authority
    assert (auth.approvals, auth.gate_approvals) == (1, 1)
    meta = json.loads((out / POPS["approvals_sod"].meta_path).read_text())
    assert "NOT IN" in meta["sql"] and uuid.UUID(gate["event_id"])
