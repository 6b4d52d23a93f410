"""Each SLI on runs recorded through the real hooks (tests/slo/conftest.py's world): values,
numerators and denominators; `unknown` where the ledger holds no data; gate runs left out and
counted; the version selector."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence
from replay.gate.selector import parse_selector
from replay.slo.slis import compute_slis

from .conftest import lookup, publish, record_world, spend


def _values(row: Any) -> dict[str, tuple[Any, Any, int]]:
    return {s.name: (s.value, s.numerator, s.denominator) for s in row.slis}


def test_each_sli_on_a_recorded_world(ledger_conn: psycopg.Connection,
                                      ledger_settings: Settings, writer: Writer,
                                      cli: Any) -> None:
    publish(ledger_conn, ledger_settings)
    record_world(ledger_conn, ledger_settings, writer)
    (row,) = compute_slis(ledger_conn, ledger_settings).rows
    assert (row.agent, row.versions.prompt_version, row.versions.model) == (
        "sales", "sales/v4", "gpt-4o-mini")
    assert (row.runs, row.gate_runs, row.handoffs) == (5, 1, 1)
    got = _values(row)
    assert got["task_completion"] == (0.6, 3, 5)           # ok, over budget, escalated
    assert got["correct_escalation"] == (1.0, 1, 1)        # refund required it, it was asked
    # every tool has a schema from its type hints (ledger.hooks.toolschema): 3 calls valid,
    # the one that errored invalid
    assert got["tool_call_validity"] == (0.75, 3, 4)
    assert "1 tool errors" in row.sli("tool_call_validity").note
    assert got["policy_compliance"] == (None, 0, 0)        # nothing checked yet
    assert row.sli("policy_compliance").note == "unchecked 5"
    assert got["spend_within_budget"] == (0.8, 4, 5)       # 0.30 > max_usd_per_run 0.20
    assert got["cost_per_resolved_usd"] == (pytest.approx(0.15), pytest.approx(0.45), 3)
    review = row.sli("human_review_seconds")
    assert review.value is not None and review.value > 0 and review.denominator == 3
    p50, p95 = row.sli("run_latency_p50_seconds"), row.sli("run_latency_p95_seconds")
    assert p50.value is not None and p95.value is not None and 0 < p50.value <= p95.value
    stop = row.sli("time_to_stop_seconds")
    assert stop.value is not None and stop.value >= 0 and stop.denominator == 1

    everything = compute_slis(ledger_conn, ledger_settings, include_gate=True)
    assert (everything.rows[0].runs, everything.rows[0].gate_runs) == (6, 0)
    assert _values(everything.rows[0])["task_completion"] == (pytest.approx(4 / 6), 4, 6)

    # compliance counts checked runs only and says how many are unchecked
    assert cli("check").exit_code == 1  # the over-budget run fails budgets.max_usd_per_run
    with ledger.run(agent="sales", prompt_version="sales/v4", model="gpt-4o-mini"):
        lookup("late")
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    (row,) = compute_slis(ledger_conn, ledger_settings).rows
    compliance = row.sli("policy_compliance")
    assert compliance.denominator == 5 and compliance.numerator is not None
    assert compliance.numerator < 5 and compliance.note == "unchecked 1"


def test_unknown_where_the_ledger_has_no_data(ledger_conn: psycopg.Connection,
                                            ledger_settings: Settings, writer: Writer) -> None:
    with ledger.run(agent="quiet", prompt_version="q/v1") as run:
        spend(run, 15)
    with ledger.run(agent="open", prompt_version="q/v1") as still:
        still.flush()
        try_sequence(ledger_conn, ledger_settings, wait=True)
        rows = {r.agent: r for r in compute_slis(ledger_conn, ledger_settings).rows}
    quiet, opened = _values(rows["quiet"]), _values(rows["open"])
    for name in ("correct_escalation", "tool_call_validity", "policy_compliance",
                 "spend_within_budget", "time_to_stop_seconds"):
        assert quiet[name][0] is None, name                 # no pack, no calls, no stop
    assert quiet["task_completion"] == (1.0, 1, 1)
    assert opened["task_completion"] == (None, 0, 0)       # still open: not a failure
    assert opened["cost_per_resolved_usd"][0] is None
    assert opened["run_latency_p95_seconds"][0] is None


def test_version_selector_and_agent_narrow_the_rows(ledger_conn: psycopg.Connection,
                                                    ledger_settings: Settings,
                                                    writer: Writer) -> None:
    for prompt, agent in (("sales/v4", "sales"), ("sales/v5", "sales"), ("sales/v5", "other")):
        with ledger.run(agent=agent, prompt_version=prompt, agent_version="1.0"):
            pass
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    v5 = compute_slis(ledger_conn, ledger_settings, version=parse_selector("prompt=sales/v5"))
    assert sorted(r.agent for r in v5.rows) == ["other", "sales"]
    one = compute_slis(ledger_conn, ledger_settings, agent="sales",
                       version=parse_selector("prompt=sales/v5,agent=sales@1.0"))
    assert [(r.agent, r.versions.prompt_version) for r in one.rows] == [("sales", "sales/v5")]
    assert compute_slis(ledger_conn, ledger_settings,
                        version=parse_selector("agent=sales@2.0")).rows == ()
