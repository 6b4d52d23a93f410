"""Fixtures for the SLO tests: a real writer (hooks) against a fresh ledger, and a recorded
world of runs (succeeded, failed, over budget, a tool error, an approval with a wait, a stop, a
gate-tagged run) made through the real hooks and the real stop service.

Waits are on conditions with deadlines (`until`), never sleeps for synchronisation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.stops import request_stop
from ledger.store.sequencer import try_sequence
from replay.policy import load_pack_text
from replay.policy.published import publish_policy
from tests.conftest import CliResult, run_main

PACK = """\
policy: {id: slo, version: '1'}
mode: enforce
budgets: {max_usd_per_run: 0.20, on_unknown_cost: allow}
policies:
  require_approval_for: [{action: payments.refund, any: true}]
"""
GATE = {"suite": "demo", "task": "t1", "attempt": 1, "label": None, "suite_hash": "0" * 64}


@hooks.tool(name="crm.lookup")
def lookup(record: str) -> str:
    return f"found {record}"


@hooks.tool(name="crm.broken")
def broken(record: str) -> str:
    raise ValueError(f"no such record {record}")


@hooks.tool(name="payments.refund")
def refund(order: int) -> int:
    return order


def until(cond: Callable[[], bool], what: str, within: float = 15.0) -> None:
    """Poll `cond` until true; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.02)


@pytest.fixture
def writer(ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Writer]:
    monkeypatch.setenv("LEDGER_LIVE_POLL", "0.05")
    w = hooks.configure(ledger_settings, sequence=True, retry_interval=0.05,
                        sequence_interval=0.0)
    yield w
    hooks.shutdown()


def publish(conn: psycopg.Connection, settings: Settings, text: str = PACK) -> str:
    digest = publish_policy(conn, settings, load_pack_text(text, "slo.yaml")).policy_hash
    try_sequence(conn, settings, wait=True)
    return digest


def spend(run: Any, dollars_x100: int) -> None:
    """Model spend through the price table: gpt-4o-mini input is 0.15 USD per 1M tokens."""
    for _ in range(dollars_x100 // 15):
        run.llm_call(model="gpt-4o-mini", input_tokens=1_000_000, output_tokens=0)


@dataclass
class World:
    """Run ids of the recorded world, by what they are."""

    ok: Any
    over_budget: Any
    failed: Any
    escalated: Any
    gate: Any
    stopped: Any


def stop_run(conn: psycopg.Connection, settings: Settings, run: Any) -> None:
    """Stop `run` through the one stop service, then let the live agent notice it."""
    run.flush()
    try_sequence(conn, settings, wait=True)
    request_stop(conn, settings, target=f"run:{run.run_id}", reason="halt",
                 requested_by="ops@example")

    def halted() -> bool:
        try:
            lookup("x")
        except ledger.RunStopped:
            return True
        return False

    until(halted, "the stop to reach the agent")


def record_world(conn: psycopg.Connection, settings: Settings, w: Writer,
                 prompt: str = "sales/v4") -> World:
    """The runs every SLI test reads (agent `sales`, model gpt-4o-mini, prompt `prompt`)."""
    kw = {"agent": "sales", "prompt_version": prompt, "model": "gpt-4o-mini"}
    with ledger.run(**kw) as ok:
        spend(ok, 15)
        lookup("acct-1")
    with ledger.run(**kw) as over:
        spend(over, 30)
    with pytest.raises(RuntimeError), ledger.run(**kw) as failed:
        with pytest.raises(ValueError):
            broken("acct-2")
        raise RuntimeError("model gave up")
    with ledger.run(**kw) as esc:
        with pytest.raises(ledger.ApprovalRequired) as held:
            refund(7)
    ledger.decide(held.value.approval_id, approver="carol", roles=["finance"])
    with ledger.run(**kw, attributes={"gate": GATE}) as gate:
        lookup("acct-3")
    with pytest.raises(ledger.RunStopped), ledger.run(**kw) as stopped:
        stop_run(conn, settings, stopped)
        lookup("after the stop")
    w.flush(10)
    try_sequence(conn, settings, wait=True)
    judge(conn, settings, [gate.run_id])
    return World(ok.run_id, over.run_id, failed.run_id, esc.run_id, gate.run_id,
                 stopped.run_id)


def judge(conn: psycopg.Connection, settings: Settings, run_ids: list[Any]) -> None:
    """An operator's gate result listing `run_ids` as its evidence (the one thing that makes a
    run a gate run for the SLIs: a writer's gate tag alone does not)."""
    from ledger.event_gate import GateResultData
    from ledger.gates import record_gate_result

    data = GateResultData.model_validate({
        "kind": "check", "suite": "demo", "suite_hash": "0" * 64, "decision": "pass",
        "recorded_by": "ci", "tasks": [{"task": "t1", "attempts": len(run_ids),
                                        "passed": len(run_ids), "failed": 0, "verdict": "pass",
                                        "run_ids": [str(r) for r in run_ids]}]})
    record_gate_result(conn, settings, data, signer=None, root=None)
    try_sequence(conn, settings, wait=True)


def record_runs(prompt: str, ok: int, failed: int, *, agent: str = "sales",
                agent_version: str = "1.0") -> None:
    """`ok` succeeded and `failed` failed runs of `agent` at prompt version `prompt`."""
    kw = {"agent": agent, "agent_version": agent_version, "prompt_version": prompt,
          "model": "gpt-4o-mini"}
    for _ in range(ok):
        with ledger.run(**kw):
            lookup("acct")
    for _ in range(failed):
        with pytest.raises(RuntimeError), ledger.run(**kw):
            raise RuntimeError("the model gave up")


@pytest.fixture
def icli(ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """The real `ledger` CLI (ledger.cli.main) in this process against the test's ledger: the
    same parsing, exit codes and one-line errors as the subprocess `cli`, without an
    interpreter start per call."""
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))

    def run(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    return run
