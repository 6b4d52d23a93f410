"""Tool-call validity: validations per second with cached validators vs compiling each schema
first, and what schema capture adds to the hooks' per-call cost on the agent's thread.

    .venv/bin/python bench/bench_toolvalid.py [--dsn DSN] [--calls 200000] [--schemas 200]
        [--tools 5000] [--quick] [--json]

1. `call_validity` over a mix of recorded calls (3 tools, pydantic-generated schemas, one call
   in 4 invalid), validators compiled once per digest (what `ledger slo` does over a window of
   ~200k calls) vs the first-compile cost (`compile_schema` of distinct schemas, caches cold).
2. `run.tool_started` + `run.tool_ended` (not waited: the agent thread's cost, the writer does
   the rest) with the tool's schema looked up and recorded vs without, same run, same args.
Without --dsn (or LEDGER_DSN) the hooks use an embedded PostgreSQL in a temporary home.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel

import ledger.hooks as hooks
from bench.report import Report, parse_args
from ledger.config import Settings
from ledger.hooks.toolschema import ToolSchema, cached_schema, tool_schema
from replay import toolvalid
from replay.toolvalid import CallFacts, Schemas, call_validity, compile_schema

QUICK = {"calls": 20_000, "schemas": 40, "tools": 1_000}


class Refund(BaseModel):
    order_id: str
    amount_usd: float
    reason: str | None = None


class Email(BaseModel):
    to: list[str]
    subject: str
    body: str
    cc: list[str] = []


class Lookup(BaseModel):
    customer: str
    limit: int = 10


def mix(n: int) -> tuple[list[CallFacts], Schemas]:
    """n calls over three tools, one in four invalid (a wrong type or a missing field)."""
    schemas = Schemas()
    good: list[tuple[str, str, Any]] = []
    bad: list[tuple[str, str, Any]] = []
    for model, ok, wrong in (
        (Refund, {"order_id": "o-1", "amount_usd": 49.9}, {"order_id": 1042}),
        (Email, {"to": ["a@b.c"], "subject": "hi", "body": "x" * 200}, {"to": "a@b.c"}),
        (Lookup, {"customer": "c-77", "limit": 5}, {"customer": "c-77", "limit": "5"}),
    ):
        schema = tool_schema(model.model_json_schema())
        assert schema is not None
        schemas.add_recorded(schema.digest, schema.schema)
        good.append((model.__name__, schema.digest, ok))
        bad.append((model.__name__, schema.digest, wrong))
    calls = []
    for i in range(n):
        tool, digest, args = (bad if i % 4 == 3 else good)[i % 3]
        calls.append(CallFacts(tool, args, digest, None, "ok"))
    return calls, schemas


def validations(n: int) -> tuple[float, dict[str, int]]:
    calls, schemas = mix(n)
    verdicts: dict[str, int] = {}
    t0 = time.perf_counter()
    for facts in calls:
        v = call_validity(facts, schemas).verdict
        verdicts[v] = verdicts.get(v, 0) + 1
    return n / (time.perf_counter() - t0), verdicts


def first_compiles(k: int) -> float:
    """Compile + one validation per distinct schema (a cold cache): validations/s."""
    toolvalid._CACHE.clear()
    distinct = [{**Refund.model_json_schema(), "description": f"v{i}"} for i in range(k)]
    t0 = time.perf_counter()
    for schema in distinct:
        compiled = compile_schema(schema)
        assert compiled.is_valid is not None
        compiled.is_valid({"order_id": "o-1", "amount_usd": 1.0})
    return k / (time.perf_counter() - t0)


def per_call(run: hooks.Run, n: int, schema: ToolSchema | None, tool: Any) -> float:
    """Microseconds per not-waited start + end on the agent thread."""
    args = {"order_id": "o-1", "amount_usd": 49.9, "reason": "damaged"}
    t0 = time.perf_counter_ns()
    for _ in range(n):
        found = cached_schema(tool, lambda t: t.model_json_schema()) if schema else None
        call = run.tool_started("refund", args, side_effect=True, args_schema=found)
        run.tool_ended(call, result="ok")
    return (time.perf_counter_ns() - t0) / n / 1000


def hooks_overhead(dsn: str | None, n: int) -> tuple[float, float]:
    home = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    hooks.configure(Settings.from_env(dsn=dsn, home=home), sequence=False)
    try:
        schema = cached_schema(Refund, lambda t: t.model_json_schema())
        with hooks.run(agent="bench-toolvalid") as run:
            per_call(run, min(n, 200), None, Refund)  # warm up
            plain = min(per_call(run, n, None, Refund) for _ in range(3))
            with_schema = min(per_call(run, n, schema, Refund) for _ in range(3))
            hooks.flush(600)
    finally:
        hooks.shutdown()
    return plain, with_schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default=os.environ.get("LEDGER_DSN"))
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--schemas", type=int, default=200)
    parser.add_argument("--tools", type=int, default=5_000)
    args = parse_args(parser, QUICK)
    report = Report("toolvalid")
    cached, verdicts = validations(args.calls)
    cold = first_compiles(args.schemas)
    report.add("validations_per_s_first_compile", cold, "per_s")
    report.add("validations_per_s_cached", cached, "per_s", baseline=cold)
    print(f"call_validity, validators cached: {cached:,.0f} calls/s over {args.calls:,} calls "
          f"({verdicts}); {args.calls / cached:.2f} s for the window")
    print(f"first compile + validate: {cold:,.0f} schemas/s; ratio cached/first-compile "
          f"{cached / cold:.0f}x")
    plain, with_schema = hooks_overhead(args.dsn, args.tools)
    report.add("tool_call_us_without_schema", plain, "us", "lower")
    report.add("tool_call_us_with_schema", with_schema, "us", "lower", baseline=plain)
    print(f"hooks per call (start + end, agent thread): {plain:.1f} us without schema, "
          f"{with_schema:.1f} us with schema capture; ratio {with_schema / plain:.2f}")
    report.emit(args)


if __name__ == "__main__":
    main()
