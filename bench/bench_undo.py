"""Undo-plan generation time: one run of 1,000 tool calls, and 10,000 runs in a window.

Synthetic events built in memory (no database, no probes): plan generation is a pure function
of the events, so this measures the generator itself. Baseline, measured in the same run:
canonical encoding (RFC 8785) of the same events, the cheapest thing any consumer of the
ledger must do with them. Prints seconds and the ratio to that baseline.
Usage: python bench/bench_undo.py [--runs N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import Report, parse_args
from ledger import ids
from ledger.events import EventBase, args_hash, encode_event, make_event
from replay.undo.contracts import load_contracts
from replay.undo.examples import CONTRACTS_DIR
from replay.undo.plan import generate_plan

QUICK = {"runs": 1_000}
T0 = ids.now_ns() - 3600 * 10**9


def _call(tool: str, i: int, records: int, prefix: str) -> tuple[dict[str, Any], Any, Any]:
    rec = f"{prefix}c{i % records}"
    if tool == "crm.update_field":
        return {"record_id": rec, "field": "tier", "value": f"v{i}"}, {"updated": rec}, f"v{i - 1}"
    if tool == "email.send":
        return (
            {"to": f"{rec}@x.io", "subject": f"s{i}", "body": "b"},
            {"message_id": f"<m{i}>"},
            None,
        )
    if tool == "payments.refund":
        return (
            {"charge_id": f"{prefix}ch{i}", "amount_cents": 100},
            {"refund_id": f"{prefix}re{i}"},
            None,
        )
    d = f"{prefix}d{i}"
    return {"record_id": d}, {"deleted": d}, {"id": d, "name": "n"}


def synthetic_run(
    n_calls: int, records: int, digests: dict[str, str], prefix: str = ""
) -> list[EventBase]:
    run_id, t = uuid.uuid4(), T0
    events: list[EventBase] = []
    tools = [
        "crm.update_field",
        "crm.update_field",
        "email.send",
        "payments.refund",
        "crm.delete_record",
    ]

    def add(type_name: str, data: dict[str, Any]) -> None:
        nonlocal t
        t += 1000
        events.append(
            make_event(
                type_name,
                run_id=run_id,
                run_seq=len(events),
                data=data,
                occurred_at=ids.format_timestamp(t),
                principal={"initiating_user": "alice"},
            )
        )

    add("run.started", {"task": "bench"})
    for i in range(n_calls):
        tool = tools[i % len(tools)]
        args, result, pre = _call(tool, i, records, prefix)
        add(
            "tool.call.started",
            {
                "tool_call_id": f"t{i}",
                "tool": tool,
                "args": args,
                "args_hash": args_hash(args),
                "side_effect": True,
                "contract_digest": digests[tool],
            },
        )
        add(
            "tool.call.ended",
            {
                "tool_call_id": f"t{i}",
                "tool": tool,
                "status": "ok",
                "result": result,
                "pre_state": pre,
            },
        )
    add("run.ended", {"status": "succeeded", "event_count": len(events) + 1})
    return events


def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    opts = parse_args(parser, QUICK)
    report = Report("undo")
    reg = load_contracts([CONTRACTS_DIR])
    digests = {t: reg.digest_for(t) or "" for t in reg.tools()}
    now = ids.format_timestamp(ids.now_ns())

    big = synthetic_run(1000, 50, digests)
    plan_s = min(
        timed(lambda: generate_plan(big, reg, now=now, scope={"runs": ["x"]})) for _ in range(3)
    )
    enc_s = min(timed(lambda: [encode_event(e) for e in big]) for _ in range(3))
    plan = generate_plan(big, reg, now=now, scope={"runs": ["x"]})
    report.add("encode_1000_call_run", enc_s * 1000, "ms", "lower")
    report.add("plan_1000_call_run", plan_s * 1000, "ms", "lower", baseline=enc_s * 1000)
    print(
        f"one run, 1,000 tool calls ({len(big)} events): plan in {plan_s * 1000:.1f} ms "
        f"({len(plan.steps)} steps, {len(plan.groups)} groups); "
        f"{plan_s / enc_s:.2f}x canonical encoding of the same events ({enc_s * 1000:.1f} ms)"
    )

    t0 = time.perf_counter()
    window: list[EventBase] = []
    for n in range(opts.runs):  # each run works on its own 3 records: independent resources
        window += synthetic_run(5, 3, digests, prefix=f"r{n}-")
    build_s = time.perf_counter() - t0
    plan_w = timed(lambda: generate_plan(window, reg, now=now, scope={"since": "x"}))
    enc_w = timed(lambda: [encode_event(e) for e in window])
    wplan = generate_plan(window, reg, now=now, scope={"since": "x"})
    report.add("build_window", build_s, "s", "lower")
    report.add("encode_window", enc_w, "s", "lower")
    report.add("plan_window", plan_w, "s", "lower", baseline=enc_w)
    report.add("window_steps", len(wplan.steps), "steps", "equal")
    print(
        f"window of {opts.runs:,} runs ({len(window):,} events, built in {build_s:.1f}s): "
        f"plan in {plan_w:.2f}s ({len(wplan.steps):,} steps, {len(wplan.groups)} groups); "
        f"{plan_w / enc_w:.2f}x canonical encoding ({enc_w:.2f}s)"
    )
    report.emit(opts)


if __name__ == "__main__":
    main()
