"""Pre-call policy decision cost (replay.policy.precall.decide) vs hashing the args, same run.

The hooks evaluate the pack in force before every tool call, so its cost is paid per call in
the agent's process. The pack is the demo's (exporters/demo/policies/sales-support-v2.yaml:
recipients, a flow, two approval rules, call, loop, budget, token and time limits) in
`mode: enforce`, plus two CEL rules with `scope: tool_call`. Proposed calls cycle through a
refund, an email and a lookup with realistic running counters. The baseline is the args hash
(`ledger.events.args_hash`) the hooks compute for every call anyway; the CEL share is timed on
its own, compiled (cel-python's CompiledRunner, what precall uses) and interpreted.

Usage: python bench/bench_precall.py [--calls 20000] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import Report, parse_args
from ledger.events import args_hash
from replay.policy.cel import compile_expression
from replay.policy.cel_fast import fast_cel
from replay.policy.loader import load_pack_text
from replay.policy.precall import (
    CEL_NAMES,
    LiveBasis,
    Proposed,
    compile_precall,
    decide,
)

QUICK = {"calls": 3000}
ROOT = Path(__file__).resolve().parents[1]
CEL = (
    "!has(args.amount_usd) || args.amount_usd < 5000",
    "call.tool != 'crm.delete_record' || 'admin' in principal.roles",
)


def pack_text(cel: bool = True) -> str:
    """The demo's pack, enforced, with two tool_call CEL rules (or without them)."""
    demo = (ROOT / "exporters/demo/policies/sales-support-v2.yaml").read_text()
    rules = "\n".join(
        f"  - {{id: cel{i}, scope: tool_call, tools: ['payments.*', 'crm.*'], expr: \"{e}\"}}"
        for i, e in enumerate(CEL)
    )
    return f"mode: enforce\n{demo}\nrules:\n{rules}\n" if cel else f"mode: enforce\n{demo}"


def calls() -> list[tuple[LiveBasis, Proposed]]:
    base = dict(user="alice", roles=("support",), agent="sales-ops", tenant="acme")
    basis = LiveBasis(tool_calls=3, tool_calls_of_tool=1, identical_calls=0,
                      cost_usd=Decimal("0.012"), total_tokens=2400, elapsed_seconds=4.2)
    refund = Proposed("payments.refund", {"order": "o-1042", "amount_usd": 49.9,
                                          "reason": "damaged on arrival"}, **base)
    email = Proposed("email.send", {"to": "ann@acme-corp.com", "subject": "Your refund",
                                    "body": "Refund issued for order o-1042."}, **base)
    lookup = Proposed("crm.lookup", {"customer": "c-77"}, **base)
    return [(basis, refund), (basis, email), (basis, lookup)]


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    """Per-call microseconds, one sample per call."""
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1000)
    return out


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    args = parse_args(parser, QUICK)
    n = args.calls
    compiled = compile_precall(load_pack_text(pack_text(), "bench.yaml"))
    plain = compile_precall(load_pack_text(pack_text(cel=False), "bench-no-cel.yaml"))
    mix = calls()
    state = {"i": 0}

    def one() -> None:
        basis, proposed = mix[state["i"] % 3]
        state["i"] += 1
        decide(compiled, basis, proposed)

    def no_cel() -> None:
        basis, proposed = mix[state["i"] % 3]
        state["i"] += 1
        decide(plain, basis, proposed)

    def hashed() -> None:
        _, proposed = mix[state["i"] % 3]
        state["i"] += 1
        args_hash(proposed.args)

    refund_basis, refund = mix[0]
    names = [frozenset(n for n in CEL_NAMES if n in e) for e in CEL]
    facts = [refund.cel_facts(refund_basis, used) for used in names]  # as the rules build them
    fast = list(zip([fast_cel(e) for e in CEL], facts, strict=True))
    slow = list(zip([compile_expression(e) for e in CEL], facts, strict=True))
    timed(one, min(n, 500))  # warm caches
    base = timed(hashed, n)
    dec = timed(one, n)
    bare = timed(no_cel, n)
    cel_c = timed(lambda: [p.evaluate(f) for p, f in fast], n // 3)
    cel_i = timed(lambda: [p.evaluate(f) for p, f in slow], n // 3)
    b50, d50, d99 = statistics.median(base), statistics.median(dec), pct(dec, 0.99)
    c50, i50 = statistics.median(cel_c), statistics.median(cel_i)
    print(f"args hash (baseline):     p50 {b50:8.1f} us")
    print(f"pre-call decision:        p50 {d50:8.1f} us  p99 {pct(dec, 0.99):8.1f} us  "
          f"ratio p50/baseline {d50 / b50:.1f} (goal p99 < 300 us)")
    e50 = statistics.median(bare)
    print(f"  without the CEL rules:  p50 {e50:8.1f} us  p99 {pct(bare, 0.99):8.1f} us  "
          f"(CEL share of the mix's p50: {(d50 - e50) / d50 * 100:.0f}%)")
    print(f"2 CEL rules, compiled:    p50 {c50:8.1f} us  (on the refund; the mix's decision "
          f"p50 is {d50:.1f} us)")
    print(f"2 CEL rules, interpreted: p50 {i50:8.1f} us  ratio interpreted/compiled "
          f"{i50 / c50:.1f}")
    agree = [p.evaluate(f) for p, f in fast] == [p.evaluate(f) for p, f in slow]
    print(f"compiled answers as interpreted: {agree}; refund decided: "
          f"{decide(compiled, refund_basis, refund).decision}")
    figures = Report("precall")
    figures.add("args_hash_p50_us", b50, "us", better="lower")
    figures.add("decision_p50_us", d50, "us", better="lower", baseline=b50)
    figures.add("decision_p99_us", d99, "us", better="lower", baseline=b50)
    figures.add("decision_no_cel_p50_us", e50, "us", better="lower", baseline=b50)
    figures.add("decision_no_cel_p99_us", pct(bare, 0.99), "us", better="lower", baseline=b50)
    figures.add("cel2_compiled_p50_us", c50, "us", better="lower", baseline=b50)
    figures.add("cel2_interpreted_p50_us", i50, "us", better="lower", baseline=c50)
    figures.emit(args)


if __name__ == "__main__":
    main()
