"""Benchmark of `ledger gate run`: its overhead per task attempt over the agent alone.

    .venv/bin/python bench/bench_gate.py [--repeats N] [--quick] [--json]

The shipped demo suite (docs/examples/gate/demo-suite.yaml, 8 tasks) on the fixed prompt
(v6), every task `--repeats` times, measured in the same run on a fresh ledger:
1. Baseline: the same agent entrypoint called directly on the same inputs, with the hooks
   recording (what the agent costs anyway), then flushed and sequenced.
2. The gate: `replay.gate.runner.run_suite` — each attempt inside `ledger.gate_task`, then
   flush, sequencing, evaluation (replay, CEL expectations, budgets, the policy in force) and
   the recorded gate.result. Per attempt; the ratio to the baseline is the figure to compare.
One warm-up call first pays the imports (LangGraph, the demo world) for both sides.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import discard, fresh_settings
from bench.report import Report, parse_args
from ledger import hooks
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.sequencer import try_sequence

QUICK = {"repeats": 2}
ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "docs" / "examples" / "gate" / "demo-suite.yaml"
PARAMS = {"prompt_version": "v6"}


def suite_with(repeats: int) -> Path:
    """The shipped suite with `repeats` attempts per task (tasks untouched)."""
    text = SUITE.read_text(encoding="utf-8").replace(
        "\nrepeats: 5\nmin_repeats: 5\n", f"\nrepeats: {repeats}\nmin_repeats: {repeats}\n")
    path = Path(tempfile.mkdtemp(prefix="bench-gate-")) / "demo-suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def agent_alone(settings: Settings, path: Path) -> tuple[float, int]:
    """Seconds for every attempt called directly (hooks on), flushed and sequenced."""
    from exporters.demo.gate_agents import sales_ops
    from replay.gate.suite import load_suite

    suite = load_suite(path)
    hooks.configure(settings)
    n = 0
    start = time.perf_counter()
    for task in suite.tasks:
        for _ in range(task.repeats):
            sales_ops(task.input, **PARAMS)
            n += 1
    hooks.flush()
    with connect(settings) as conn:
        try_sequence(conn, settings, wait=True)
    return time.perf_counter() - start, n


def through_gate(settings: Settings, path: Path) -> tuple[float, float, int, str]:
    """Seconds for `run_suite` (attempts, evaluation, record), agent time inside it, attempts
    and the decision."""
    from replay.gate.runner import run_suite
    from replay.gate.suite import load_suite

    suite = load_suite(path)
    start = time.perf_counter()
    outcome = run_suite(settings, suite, label="bench", params_override=PARAMS,
                        recorded_by="bench")
    total = time.perf_counter() - start
    return total, sum(a.seconds for a in outcome.attempts), len(outcome.attempts), \
        outcome.decision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parse_args(parser, QUICK)
    report = Report("gate")
    settings = fresh_settings("gate")
    path = suite_with(args.repeats)
    from exporters.demo.gate_agents import sales_ops

    hooks.configure(settings)
    sales_ops({"request": "Where is order 1?"}, **PARAMS)  # warm-up: imports, demo world
    alone, n = agent_alone(settings, path)
    gated, inside, attempts, decision = through_gate(settings, path)
    assert decision == "pass" and attempts == n, (decision, attempts, n)
    per_alone, per_gate = alone / n * 1000, gated / attempts * 1000
    report.add("agent_alone_per_attempt", per_alone, "ms", "lower")
    report.add("gate_run_per_attempt", per_gate, "ms", "lower", baseline=per_alone)
    report.add("gate_overhead_per_attempt", per_gate - per_alone, "ms", "lower")
    report.add("gate_judge_and_record_per_attempt", (gated - inside) / attempts * 1000, "ms",
               "lower")
    print(f"{n} attempts ({args.repeats} per task): agent alone {per_alone:.1f} ms/attempt, "
          f"through `gate run` {per_gate:.1f} ms/attempt ({per_gate / per_alone:.2f}x; "
          f"+{per_gate - per_alone:.1f} ms, of which judging and recording "
          f"{(gated - inside) / attempts * 1000:.1f} ms)")
    hooks.shutdown()
    discard(settings)
    report.emit(args)


if __name__ == "__main__":
    main()
