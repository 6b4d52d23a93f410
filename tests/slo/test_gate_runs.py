"""A writer cannot hide failing production runs from the SLIs by tagging them as gate runs
(walk-through finding 6): only runs an operator-recorded gate.result lists are left out; runs
that merely carry the tag are counted as live traffic and reported. Runs recorded through the
real hooks, gate results through the real recorder, the real CLI in this process."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

import ledger
from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence

from .conftest import GATE, judge, lookup, record_runs

KW = {"agent": "sales", "agent_version": "1.0", "prompt_version": "sales/v5",
      "model": "gpt-4o-mini"}


def _tagged(failed: int) -> list[Any]:
    """`failed` failing runs of the candidate that carry a gate tag (the writer's claim)."""
    ids = []
    for _ in range(failed):
        with pytest.raises(RuntimeError), ledger.run(**KW, attributes={"gate": GATE}) as run:
            lookup("acct")
            raise RuntimeError("the model gave up")
        ids.append(run.run_id)
    return ids


def test_tagged_runs_count_unless_a_gate_result_lists_them(
        ledger_conn: psycopg.Connection, ledger_settings: Settings, writer: Writer,
        icli: Any) -> None:
    record_runs("sales/v4", ok=8, failed=0)
    record_runs("sales/v5", ok=5, failed=0)
    hidden = _tagged(5)  # the attack: tag the failures, record no gate result
    judged = _tagged(2)  # real gate runs: an operator's gate result lists them
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    judge(ledger_conn, ledger_settings, judged)
    assert len(hidden) == 5

    res = icli("compare", "--baseline", "prompt=sales/v4", "--candidate", "prompt=sales/v5",
               "--min-runs", "5", "--json")
    assert res.exit_code == 1, res.stderr
    data = json.loads(res.stdout)
    assert (data["decision"], data["baseline_runs"], data["candidate_runs"]) == (
        "regression", 8, 10)
    assert data["gate_runs_excluded"] == {"baseline": 0, "candidate": 2}
    assert data["gate_tagged_unjudged"] == {"baseline": 0, "candidate": 5}
    text = icli("compare", "--baseline", "prompt=sales/v4", "--candidate", "prompt=sales/v5",
                "--min-runs", "5")
    assert text.stdout.splitlines()[-3:] == [
        "candidate: 2 gate runs excluded (listed in a recorded gate result)",
        "candidate: 5 runs tagged as gate runs but judged by no gate result (counted)",
        "REGRESSION: the candidate is worse"]

    slo = icli("slo", "--version", "prompt=sales/v5")
    assert slo.exit_code == 0, slo.stderr
    lines = slo.stdout.splitlines()
    assert lines[0] == ("sales  v1.0 prompt=sales/v5 model=gpt-4o-mini  "
                        "(10 runs, 2 gate runs excluded)")
    assert lines[1] == "  5 runs tagged as gate runs but judged by no gate result (counted)"
    assert any(x.startswith("task_completion ") and "50.0%" in x and "5/10" in x for x in lines)
    both = json.loads(icli("slo", "--version", "prompt=sales/v5", "--include-gate",
                           "--json").stdout)
    (row,) = both["rows"]
    assert (row["runs"], row["gate_runs_excluded"], row["gate_tagged_unjudged"]) == (12, 0, 5)
