"""`gate compare` judges at the suite's own alpha and min_repeats, and refuses a side compared
with itself (walk-through #13 of issue 19).

`gate run`/`gate check` record the suite's `alpha` and `min_repeats` with each result; compare
takes the strictest recorded on either side (the smallest alpha, the largest min_repeats, never
fewer than 5 attempts) unless `--alpha` / `--min-repeats` are given."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.gates import record_gate_result
from tests.gate.recordkit import gcli, result

__all__ = ["gcli"]


def _record(conn: psycopg.Connection, settings: Settings, tasks: dict[str, tuple[int, int]],
            label: str, alpha: str, min_repeats: int) -> None:
    data = result(tasks, label=label, prompt=f"sales-ops/{label}").model_copy(
        update={"suite_alpha": alpha, "suite_min_repeats": min_repeats})
    record_gate_result(conn, settings, data, signer=None, root=None)


def test_compare_defaults_to_the_suites_alpha_and_min_repeats(
    gcli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    _record(ledger_conn, ledger_settings, {"t": (10, 10)}, "v1", "0.01", 3)
    _record(ledger_conn, ledger_settings, {"t": (5, 10)}, "v2", "0.01", 3)  # p = 0.016
    strict = gcli("gate", "compare", "--baseline", "v1", "--candidate", "v2", "--no-record",
                  "--json")
    out = json.loads(strict.stdout)
    assert (strict.exit_code, out["decision"], out["alpha"], out["min_repeats"]) == (
        0, "pass", 0.01, 5)  # the suite's alpha; min_repeats never below 5
    flag = gcli("gate", "compare", "--baseline", "v1", "--candidate", "v2", "--no-record",
                "--alpha", "0.05")
    assert flag.exit_code == 1 and "regression: t, overall" in flag.stdout.splitlines()
    _record(ledger_conn, ledger_settings, {"t": (10, 10)}, "v3", "0.05", 12)
    short = gcli("gate", "compare", "--baseline", "v1", "--candidate", "v3", "--no-record")
    assert short.exit_code == 1
    assert "t: not enough runs: baseline has 10 and candidate has 10 attempts (min 12)" in (
        short.stdout.splitlines())


def test_a_side_compared_with_itself_is_refused(
    gcli: Any, ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    _record(ledger_conn, ledger_settings, {"t": (5, 5)}, "a1", "0.05", 5)
    same = gcli("gate", "compare", "--baseline", "a1", "--candidate", "a1")
    assert (same.exit_code, same.stdout, same.stderr) == (
        2, "", "error: --baseline 'a1' and --candidate 'a1' select 1 of the same gate results: "
               "compare two different versions\n")
    also = gcli("gate", "compare", "--baseline", "a1", "--candidate", "prompt=sales-ops/a1")
    assert also.exit_code == 2 and "select 1 of the same gate results" in also.stderr
