"""Expectations and budgets over real recorded runs: what an attempt passes or fails on.

Runs go through the real hooks into a fresh ledger; `evaluate_runs` folds them as `ledger
replay` does and takes the verdicts `ledger check` gives."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from replay.gate.evaluate import TaggedRun, evaluate_runs
from replay.gate.suite import load_suite_text
from tests.gate.checkkit import SUITE_YAML, Attempt, record, writer_for

FACTS_SUITE = """\
suite: facts
version: "1"
agent: {name: sales-ops}
repeats: 1
min_repeats: 1
policy: ignore
tasks:
  - id: t
    input: {account: ACME, limit: 2}
    expect:
      - 'run.tools == ["crm.lookup", "crm.update_field"]'
      - 'run.tool_calls[1].args.field == "renewal" && run.tool_calls[1].result.ok'
      - 'run.tool_calls[1].approved && !run.tool_calls[0].approved'
      - 'run.approvals.exists(a, a.tool == "crm.update_field" && a.decision == "approved"
         && a.approver == "bob")'
      - 'run.tokens.input == 300 && run.tokens.output == 100 && run.tokens.total == 400'
      - 'run.spend_usd > 0.0001 && run.spend_usd < 0.0002'
      - 'run.output == "renewed " + input.account && size(run.messages) == 2'
      - 'run.messages[0].direction == "input" && run.status == "succeeded" && !run.stopped'
      - 'run.versions.model == "gpt-4o-mini" && run.versions.prompt_version == "sales-ops/v4"
         && run.versions.agent_version == "1.4"'
      - 'run.duration_ms >= 0 && size(run.tool_calls) <= input.limit && run.failing_rules == []'
"""


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    yield writer_for(ledger_settings)
    hooks.shutdown()


def test_cel_reads_tool_calls_spend_tokens_approvals_and_output(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    run_id = record(Attempt(task="t", tools=(("crm.lookup", {"account": "ACME"}),
                                             ("crm.update_field", {"field": "renewal"})),
                            approve="crm.update_field", output="renewed ACME"))
    suite = load_suite_text(FACTS_SUITE, "facts.yaml")
    report = evaluate_runs(ledger_conn, ledger_settings, suite, [TaggedRun(run_id, "t", 1)],
                           trust_root=None)
    assert report.attempts[0].reasons == ()
    assert report.decision == "pass" and report.tasks[0].run_ids == (run_id,)
    (seen,) = report.versions
    assert (seen.agent, seen.agent_version, seen.model) == ("sales-ops", "1.4", "gpt-4o-mini")


def test_each_failing_attempt_says_why_in_one_short_line(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    over = record(Attempt(tools=(("crm.update_field", {"field": "renewal"}),) * 4,
                          tokens=(30_000, 1_000)))
    unknown_cost = record(Attempt(tokens=None, attempt=2))
    wrong = record(Attempt(tools=(("crm.update_field", {"field": "price"}),), attempt=3,
                           output="sorry"))
    failed = record(Attempt(attempt=4, status="failed"))
    pricey = record(Attempt(attempt=5, model="gpt-4o", tokens=(1000, 1000)))
    suite = load_suite_text(SUITE_YAML, "suite.yaml")
    runs = [TaggedRun(r, "renewal-update", n) for n, r in
            enumerate([over, unknown_cost, wrong, failed, pricey], start=1)]
    report = evaluate_runs(ledger_conn, ledger_settings, suite, runs, trust_root=None)
    why = {a.attempt: a.reasons for a in report.attempts}
    assert why[1] == ("budget: 31000 tokens > 2000", "budget: 4 tool calls > 3")
    assert why[2] == ("budget: spend unknown (1 model calls without a cost)",
                      "budget: tokens unknown (1 model calls without usage)")
    assert why[3] == ("expectation not met: updated the field",
                      "expectation not met: run.output.contains(\"renewed\")")
    assert why[4][0] == "errored: the run ended failed"
    assert 'expectation not met: run.status == "succeeded"' in why[4]
    assert why[5] == ("budget: spent $0.0125 > $0.01",)
    (task, injection) = report.tasks
    assert (task.attempts, task.passed, task.failed, task.errored) == (5, 0, 4, 1)
    assert task.verdict == "fail" and injection.verdict == "not_enough_runs"
    assert task.reasons[0] == "attempt 1: budget: 31000 tokens > 2000 (+1 more)"
    assert report.decision == "fail"


def test_an_expression_that_cannot_be_decided_fails_the_attempt(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    text = FACTS_SUITE.split("    expect:", maxsplit=1)[0] + (
        "    expect:\n      - 'run.tool_calls[5].tool == \"x\"'\n      - 'run.tools'\n")
    run_id = record(Attempt(task="t"))
    suite = load_suite_text(text, "u.yaml")
    report = evaluate_runs(ledger_conn, ledger_settings, suite, [TaggedRun(run_id, "t", 1)],
                           trust_root=None)
    assert report.attempts[0].reasons == ('undecidable: run.tool_calls[5].tool == "x"',
                                          "undecidable: run.tools")
    assert report.decision == "fail"


def test_an_adversarial_case_fails_on_one_successful_attack(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    attacked = record(Attempt(task="ceo-injection", tools=(("crm.export", {"all": True}),)))
    suite = load_suite_text(SUITE_YAML, "suite.yaml")  # min_repeats 2, one attempt ran
    report = evaluate_runs(ledger_conn, ledger_settings, suite,
                           [TaggedRun(attacked, "ceo-injection", 1)], trust_root=None)
    injection = report.tasks[1]
    assert (injection.verdict, injection.attempts, injection.reasons) == (
        "fail", 1, ("attempt 1: expectation not met: never exported",))
    assert report.decision == "fail"
