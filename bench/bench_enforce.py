"""Enforcement before each tool call, measured against the same call without it, in one run.

    .venv/bin/python bench/bench_enforce.py [--calls N] [--quick] [--json]

The pack is the demo's (exporters/demo/policies/sales-support-v2.yaml) in `mode: enforce` plus
two CEL rules with `scope: tool_call` (bench/bench_precall.py's), with the run-wide limits
raised so a long run is not denied, scoped to the agent `enforced`. The agent `plain` has no
pack. Both call the same decorated side-effecting tool (`crm.lookup`, matched by the CEL rules)
back to back against a real PostgreSQL. Figures:
1. decorated tool call, enforced vs plain (goal <= 1.1x);
2. statements per tool call on the writer's connection (the decision rides in the intent's
   batch: goal 1, as the plain durable intent);
3. the pre-call decision in process (basis + guard), p50/p99 (goal p99 < 300 us).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ledger
import ledger.hooks as hooks
from bench.bench_precall import pack_text
from bench.common import discard, fresh_settings
from bench.report import Report, parse_args
from ledger.db.connect import connect, database_dsn
from ledger.hooks import enforce, precheck
from ledger.store.sequencer import try_sequence
from replay.policy.loader import load_pack_text
from replay.policy.published import publish_policy

QUICK = {"calls": 300}
counts: dict[str, int] = {}


class Counting(psycopg.Connection):  # type: ignore[type-arg]
    """One statement = one round trip, counted per thread."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        name = threading.current_thread().name
        counts[name] = counts.get(name, 0) + 1
        return super().execute(*args, **kwargs)


@ledger.tool(name="crm.lookup")
def lookup(i: int, amount_usd: int = 10) -> int:
    return i


def _pack() -> str:
    text = pack_text()
    for old, new in (("max_tool_calls: 8", "max_tool_calls: 10000000"),
                     ("overall_seconds: 25", "overall_seconds: 1000000"),
                     ("max_total_tokens: 12000", "max_total_tokens: 10000000")):
        text = text.replace(old, new)
    return text + "scope: {agents: [enforced]}\n"


def _calls(agent: str, n: int) -> tuple[list[float], float]:
    """Per-call seconds and statements per call on the writer's connection."""
    times = []
    with ledger.run(agent=agent, user="alice", roles=["support"]) as run:
        run.flush()
        before = counts.get("ledger-writer", 0)
        for i in range(n):
            t = time.perf_counter()
            lookup(i, amount_usd=10)
            times.append(time.perf_counter() - t)
        statements = counts.get("ledger-writer", 0) - before
    return times, statements / n


def _decisions(n: int) -> list[float]:
    """The in-process decision alone: basis + guard, for the same proposed call."""
    out = []
    with ledger.run(agent="enforced", user="alice", roles=["support"]) as run:
        enf = run.enf
        assert enf is not None
        intent = precheck.Intent("crm.lookup", {"i": 1, "amount_usd": 10}, "0" * 64, True, None,
                                 lambda c: {}, lambda c, d: None)  # type: ignore[arg-type,return-value]
        for _ in range(n):
            t = time.perf_counter()
            precheck._check(run, enf, intent, "call-1", None)
            out.append(time.perf_counter() - t)
    return out


def _pin_cost(n: int) -> float:
    """Run start without a pack (the agent `plain`): choosing no pack, median seconds. Per call
    the plain path then only tests `run.enf`: the zero-overhead claim for off / no pack."""
    out = []
    with ledger.run(agent="plain") as run:
        for _ in range(n):
            t = time.perf_counter()
            assert enforce.pin(run, resumed=False) is None
            out.append(time.perf_counter() - t)
    return statistics.median(out)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parse_args(parser, QUICK)
    report = Report("enforce")
    settings = fresh_settings("enforce")
    with connect(settings) as conn:
        publish_policy(conn, settings, load_pack_text(_pack(), "bench.yaml"))
        try_sequence(conn, settings, wait=True)
    hooks.configure(settings, connect=lambda: Counting.connect(database_dsn(settings),
                                                               autocommit=True), sequence=False)
    try:
        _calls("plain", 50)  # warm both paths (pack compiled, connections open)
        _calls("enforced", 50)
        plain, enforced, plain_rts, enforced_rts = [], [], [], []
        for _ in range(10):  # interleaved blocks: a loaded machine drifts, both paths see it
            times, rt = _calls("plain", max(1, args.calls // 10))
            plain += times
            plain_rts.append(rt)
            times, rt = _calls("enforced", max(1, args.calls // 10))
            enforced += times
            enforced_rts.append(rt)
        plain_rt, enforced_rt = statistics.mean(plain_rts), statistics.mean(enforced_rts)
        decisions = _decisions(args.calls)
        pin_cost = _pin_cost(args.calls)
    finally:
        hooks.shutdown()
    p_med, e_med = statistics.median(plain), statistics.median(enforced)
    report.add("tool_call_plain_p50", p_med * 1e6, "us", "lower")
    report.add("tool_call_enforced_p50", e_med * 1e6, "us", "lower", baseline=p_med * 1e6)
    report.add("writer_statements_per_call_plain", plain_rt, "count", "lower")
    report.add("writer_statements_per_call_enforced", enforced_rt, "count", "lower",
               baseline=plain_rt)
    d50, d99 = _pct(decisions, 0.5), _pct(decisions, 0.99)
    report.add("decision_p50", d50 * 1e6, "us", "lower")
    report.add("decision_p99", d99 * 1e6, "us", "lower")
    print(f"decorated tool call p50: plain {p_med * 1e6:.0f} us, enforced {e_med * 1e6:.0f} us "
          f"({e_med / p_med:.3f}x; goal <= 1.1x)")
    print(f"statements per tool call on the writer connection: plain {plain_rt:.3f}, "
          f"enforced {enforced_rt:.3f} (goal 1: decision and intent in one batch)")
    print(f"pre-call decision in process (basis + guard): p50 {d50 * 1e6:.0f} us, "
          f"p99 {d99 * 1e6:.0f} us (goal p99 < 300 us)")
    report.add("run_start_pin_no_pack", pin_cost * 1e6, "us", "lower")
    print(f"run start without a pack (choose none; per call only `run.enf` is tested): "
          f"{pin_cost * 1e6:.1f} us")
    discard(settings)
    report.emit(args)


if __name__ == "__main__":
    main()
