"""Replay + full policy check throughput (events/s) and the latency of one 1,000-event run.

Synthetic runs are built once (event construction is the writer's cost, not replay's); the
timed loop folds each run and applies a pack that enables every rule kind, CEL included.
"""

from __future__ import annotations

import textwrap
import time

from replay.policy import check_run, compile_pack, load_pack_text
from replay.state import fold, stored
from replay.synth import RunBuilder

PACK = textwrap.dedent("""
    policy: {id: bench, version: "1"}
    max_total_tokens: 10000000
    max_tool_calls: 100000
    max_tool_calls_per_tool: {search: 100000}
    timeouts: {overall_seconds: 100000, per_tool_seconds: 60}
    budgets: {max_usd_per_run: 1000}
    policies:
      require_approval_for:
        - {action: refund, threshold_usd: 200, approver_roles: [finance_lead],
           forbid_self_approval: true, max_age_seconds: 900}
    tools: {allow: [search, refund, send_email], pinned: {refund: d1}}
    recipients: [{tool: send_email, argument: to, allow_domains: [acme.com]}]
    egress: {tools: [send_email], pii: {detectors: [card, iban]},
             secrets: {detectors: [aws_access_key]}}
    flows: [{id: taint, from: {tools: [search]}, to: {tools: [send_email]}}]
    models: {allow: ['gpt-5*']}
    loops: {max_identical_calls: 1000}
    capture: {}
    rules:
      - {id: budgeted, expr: "totals.cost_usd < 100.0 && principal.initiating_user != ''"}
""")
HEAVY = "  - {id: few-errors, expr: \"size(tool_calls.filter(c, c.status == 'error')) < 5\"}\n"


def synthetic_run(n_events: int) -> list:  # type: ignore[type-arg]
    b = RunBuilder()
    b.start()
    i = 0
    while len(b.events) < n_events - 9:
        b.llm(tokens=(200, 50), cost="0.001")
        b.tool("search", {"q": f"query {i}"}, result={"hits": i})
        b.message(f"note {i}", trust="trusted")
        if i % 50 == 0:
            args = {"to": "ops@acme.com", "body": f"status {i}"}
            cid = f"mail{i}"
            b.approve(cid, "send_email", args)
            b.tool("send_email", args, call_id=cid)
        i += 1
    b.end()
    return stored(b.events)


def main() -> None:
    compiled = compile_pack(load_pack_text(PACK, "bench.yaml"))
    runs = [synthetic_run(100) for _ in range(200)]
    total = sum(len(r) for r in runs)
    for r in runs[:5]:
        check_run(compiled, fold(r))  # warm caches
    t0 = time.perf_counter()
    for r in runs:
        check_run(compiled, fold(r))
    took = time.perf_counter() - t0
    print(f"replay+check: {total} events in {took:.3f}s = {total / took:,.0f} events/s "
          f"({len(runs)} runs of ~100 events, {len(compiled.checks)} rules)")
    t0 = time.perf_counter()
    for r in runs:
        fold(r)
    fold_s = time.perf_counter() - t0
    print(f"replay only:  {total / fold_s:,.0f} events/s")
    big = synthetic_run(1000)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        verdicts = check_run(compiled, fold(big))
        best = min(best, time.perf_counter() - t0)
    fails = [v.rule_id for v in verdicts if v.outcome != "pass"]
    heavy = compile_pack(load_pack_text(PACK + HEAVY, "bench-heavy.yaml"))
    t0 = time.perf_counter()
    for r in runs:
        check_run(heavy, fold(r))
    heavy_s = time.perf_counter() - t0
    print(f"with a list-comprehension CEL rule over tool_calls: {total / heavy_s:,.0f} events/s")
    print(f"one {len(big)}-event run: {best * 1000:.2f} ms (fold + {len(verdicts)} rules; "
          f"non-pass: {fails or 'none'})")


if __name__ == "__main__":
    main()
