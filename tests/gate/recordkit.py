"""Gate results for the gatecmp tests: a small GateResultData built from (passes, attempts)
per task, and a registry that lists a service_key (the key CI signs gate results with)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

import pytest

from ledger.config import Settings
from ledger.event_gate import GateComparison, GateResultData, GateTaskOutcome, GateVersions
from tests.conftest import CliResult, run_main
from tests.registrykit import Authority

SUITE_HASH = "ab" * 32


def outcome(task: str, passed: int, attempts: int, *, adversarial: bool = False,
            errored: int = 0, min_repeats: int = 5) -> GateTaskOutcome:
    """One task's outcome; its verdict as gate run/check would judge it (contract 6)."""
    failed = attempts - passed - errored
    verdict = ("not_enough_runs" if attempts < min_repeats
               else "pass" if passed == attempts else "fail")
    runs = tuple(uuid.uuid4() for _ in range(attempts))
    return GateTaskOutcome(task=task, adversarial=adversarial, attempts=attempts, passed=passed,
                           failed=failed, errored=errored, verdict=verdict, run_ids=runs,
                           reasons=("expectation not met",) * (attempts - passed))


def result(
    tasks: Mapping[str, tuple[int, int]] | None = None,
    *,
    label: str | None = "v4",
    agent: str = "sales-ops",
    prompt: str | None = "sales-ops/v4",
    model: str | None = "scripted-1",
    adversarial: tuple[str, ...] = (),
    kind: str = "run",
    suite: str = "demo-sales-ops",
    comparison: GateComparison | None = None,
) -> GateResultData:
    """A gate result over `tasks` ({task: (passed, attempts)}), decision as contract 6."""
    tasks = tasks if tasks is not None else {"renewal-update": (5, 5)}
    outs = tuple(outcome(t, p, n, adversarial=t in adversarial) for t, (p, n) in tasks.items())
    verdicts = {o.verdict for o in outs}
    decision = ("fail" if "fail" in verdicts else
                "not_enough_runs" if "not_enough_runs" in verdicts else "pass")
    versions = GateVersions(agent=agent, agent_version="1.0", prompt_version=prompt, model=model)
    return GateResultData.model_validate({
        "kind": kind, "suite": suite, "suite_version": "3", "suite_hash": SUITE_HASH,
        "label": label, "versions": [versions.model_dump()],
        "tasks": [o.model_dump() for o in outs],
        "comparison": comparison.model_dump() if comparison else None, "decision": decision,
        "recorded_by": "ci",
    })


def service_registry(authority: Authority, service_vkey: str | None) -> str:
    """Publish a registry (listing `service_vkey` as its service_key, if any); its digest."""
    extra = {} if service_vkey is None else {"service_key": service_vkey}
    return authority.publish(1, principals=[authority.person("oncall", "sre")], **extra)


@pytest.fixture
def gcli(
    ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """The real `ledger` CLI (ledger.cli.main) run in this process against the test's ledger:
    the same parsing, exit codes and one-line errors as the subprocess `cli`, without paying an
    interpreter start per call (the gatecmp tests make many short calls)."""
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))

    def run(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    return run
