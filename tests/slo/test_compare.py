"""`ledger compare` on live traffic recorded through the real hooks: a real regression exits 1,
few runs are "not enough runs" (exit 1, never a pass), --stop-candidate records the stop of the
candidate's scope; and the statistics against the reference values."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.errors import InputError
from ledger.hooks.writer import Writer
from ledger.service_key import create_service_key
from ledger.store.sequencer import try_sequence
from replay.cli.compare_cmd import stop_target
from replay.gate.selector import parse_selector
from replay.gate.stats import fisher_worse, mann_whitney_greater
from replay.slo.compare import compare_versions
from tests.registrykit import Authority

from .conftest import lookup, record_runs, until

BASE, CAND = "prompt=sales/v4", "prompt=sales/v5"


def _flush(conn: psycopg.Connection, settings: Settings, writer: Writer) -> None:
    writer.flush(10)
    try_sequence(conn, settings, wait=True)


def test_statistics_match_the_reference_values() -> None:
    assert fisher_worse(18, 20, 14, 20) == pytest.approx(0.118, abs=5e-4)
    assert fisher_worse(14, 20, 18, 20) > 0.9          # better is never "worse"
    assert fisher_worse(0, 0, 3, 5) == 1.0
    assert mann_whitney_greater([1.0] * 10, [1.0] * 10) > 0.4
    assert mann_whitney_greater(list(range(10)), [x + 20.0 for x in range(10)]) < 0.001
    with pytest.raises(ValueError, match="between 0"):
        fisher_worse(5, 4, 1, 1)


def test_regression_exits_1_and_stops_the_candidate(
        ledger_conn: psycopg.Connection, ledger_settings: Settings, writer: Writer,
        cli: Any, authority: Authority) -> None:
    key = create_service_key(ledger_settings)  # the registry lists it: the stop is the
    authority.publish(service_key=key.vkey)    # ledger service's own act, signed
    record_runs("sales/v4", ok=8, failed=0)
    record_runs("sales/v5", ok=2, failed=6)
    _flush(ledger_conn, ledger_settings, writer)
    res = cli("compare", "--baseline", BASE, "--candidate", CAND, "--min-runs", "5", "--json",
              "--stop-candidate", "--sign-with", str(key.path),
              "--trust-root", str(authority.root_file))
    assert res.exit_code == 1, res.stderr
    data = json.loads(res.stdout)
    assert data["decision"] == "regression"
    done = next(s for s in data["slis"] if s["sli"] == "task_completion")
    assert done["verdict"] == "regression" and done["p_value"] < 0.05
    assert (done["baseline"]["numerator"], done["candidate"]["numerator"]) == (8, 2)
    assert data["stopped"]["target"] == "prompt:sales/v5"
    assert (data["stopped"]["authority"], data["stopped"]["signed"]) == ("registry", True)
    assert _stops(ledger_conn) == ["prompt:sales/v5"]

    def candidate_halted() -> bool:  # the candidate's agents halt once their cache has it
        try:
            with ledger.run(agent="sales", prompt_version="sales/v5") as run:
                run.prompt("sales", "v5", "You sell.")
                lookup("acct")
        except ledger.RunStopped:
            return True
        return False

    until(candidate_halted, "the candidate's scope to be stopped")
    human = cli("compare", "--baseline", BASE, "--candidate", CAND, "--min-runs", "5")
    assert human.exit_code == 1 and "REGRESSION" in human.stdout


def test_few_runs_are_not_enough_and_a_fair_candidate_passes(
        ledger_conn: psycopg.Connection, ledger_settings: Settings, writer: Writer,
        cli: Any) -> None:
    record_runs("sales/v4", ok=6, failed=0)
    record_runs("sales/v5", ok=3, failed=0)
    _flush(ledger_conn, ledger_settings, writer)
    few = cli("compare", "--baseline", BASE, "--candidate", CAND, "--min-runs", "5",
              "--stop-candidate")
    assert few.exit_code == 1, few.stderr
    assert "not enough runs: no decision (not a pass)" in few.stdout
    assert _stops(ledger_conn) == []  # no stop without a regression
    record_runs("sales/v5", ok=3, failed=0)
    _flush(ledger_conn, ledger_settings, writer)
    fair = compare_versions(ledger_conn, ledger_settings, parse_selector(BASE),
                            parse_selector(CAND), min_runs=5)
    assert (fair.decision, fair.baseline_runs, fair.candidate_runs) == ("pass", 6, 6)


def test_compare_refuses_bad_input_in_one_line(cli: Any) -> None:
    res = cli("compare", "--baseline", BASE, "--candidate", "model=m", "--alpha", "2")
    assert res.exit_code == 2, res.stderr
    assert res.stderr == "error: --alpha must be between 0 and 1 (got 2.0)\n"
    with pytest.raises(InputError, match="--stop-candidate needs agent=NAME@VERSION"):
        stop_target(parse_selector("policy=abcdef0123,agent=sales"))
    assert stop_target(parse_selector("agent=sales@2.0,prompt=sales/v5")) == "agent:sales@2.0"
    assert stop_target(parse_selector("model=gpt-x")) == "model:gpt-x"


def _stops(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT convert_from(body, 'UTF8')::jsonb #>> '{data,target}' FROM ledger_events "
        "WHERE type = 'run.stop.requested' ORDER BY seq")]
