"""`ledger slo` over a large ledger (goal: <= 5 s over 1M stored events).

The events go through the real write path (intake + the sequencer, in big batches, as
bench_tui.py fills its 1M board): runs of two prompt versions with tool calls (10 % of them
errors; each carries its tool's args schema digest, and the run's first call the schema, as the
hooks record them for every typed tool, so the tool-call validity SLI checks every call), one
run in ten held by an enforcement decision for an approval, a published pack with a budget,
run.ended with status, cost and call count, and 2 % gate-tagged runs. Figures, in the same run:
`ledger slo` (the real CLI process) over every run and over the last tenth of them, and as the
baseline `ledger runs` over the same data (a list of one page: the cheapest whole-ledger read)
plus the raw SQL aggregate alone (what the CLI adds on top of the query).
Usage: python bench/bench_slo.py [--events 1000000] [--per-run 20] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timer, fresh_settings
from bench.report import Report, parse_args
from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.db.sqlfiles import query
from ledger.events import args_hash, leaf_hash, make_event
from ledger.store.append import EncodedEvent, encode_for_intake, submit_encoded
from ledger.store.sequencer import try_sequence
from replay.policy import load_pack_text
from replay.policy.published import publish_policy

QUICK = {"events": 40_000}
T0 = datetime(2026, 11, 1, tzinfo=UTC)
PACK = "policy: {id: bench, version: '1'}\nbudgets: {max_usd_per_run: 0.05}\n"
SCHEMA = {"type": "object", "required": ["record"],
          "properties": {"record": {"type": "string"}, "note": {"type": "string"}}}
SCHEMA_DIGEST = hashlib.sha256(canonical_bytes(SCHEMA)).hexdigest()


def _run(i: int, per_run: int, settings: Settings) -> list[EncodedEvent]:
    """One run of `per_run` events (>= 8), started i minutes after T0."""
    run_id, prev, out = uuid.uuid4(), None, []
    start = T0 + timedelta(minutes=i)
    env: dict[str, Any] = {
        "principal": {"initiating_user": "bench@example.com", "roles": ["ops"]},
        "agent": {"name": f"agent-{i % 3}", "version": "1"},
        "versions": {"prompt_version": f"sales/v{4 + i % 2}", "model": "gpt-4o-mini"},
    }
    gate = {"gate": {"suite": "s", "task": "t", "attempt": 1, "label": None,
                     "suite_hash": "0" * 64}} if i % 50 == 0 else {}
    calls = (per_run - 4) // 2
    bodies: list[tuple[str, dict[str, Any]]] = [("run.started", {"attributes": gate})]
    if i % 10 == 0:  # one run in ten is held for an approval
        bodies += [("policy.decided", {"tool_call_id": "t0", "tool": "crm.update", "args_hash":
                                   args_hash({}), "decision": "require_approval",
                                   "mode": "enforce", "pack_hash": "a" * 64,
                                   "evaluator": "precall/1"}),
               ("approval.requested", {"approval_id": f"a{i}", "tool_call_id": "t0",
                                       "tool": "crm.update", "args_hash": args_hash({})})]
    else:
        calls += 1
    for c in range(calls):
        args = {"record": f"acct-{i}-{c}", "note": "x" * 200}  # every call distinct
        schema = {"args_schema_digest": SCHEMA_DIGEST} | ({"args_schema": SCHEMA} if c == 0
                                                           else {})
        bodies.append(("tool.call.started", {"tool_call_id": f"t{c}", "tool": "crm.update",
                                             "args": args, "args_hash": args_hash(args),
                                             **schema}))
        bodies.append(("tool.call.ended", {"tool_call_id": f"t{c}", "tool": "crm.update",
                                           "status": "error" if (i + c) % 10 == 0 else "ok"}))
    status = "succeeded" if i % 7 else "failed"
    bodies.append(("run.ended", {"status": status, "event_count": len(bodies) + 1,
                                 "totals": {"cost_usd": f"0.0{i % 9}",
                                            "tool_calls": calls}}))
    for seq, (kind, data) in enumerate(bodies):
        at = start + timedelta(seconds=seq)
        event = make_event(kind, run_id=run_id, run_seq=seq, prev_run_hash=prev, data=data,
                           occurred_at=at.isoformat().replace("+00:00", "Z"), **env)
        item = encode_for_intake(event, settings)
        prev = leaf_hash(item.body).hex()
        out.append(item)
    return out


def fill(settings: Settings, n_events: int, per_run: int) -> int:
    """Append about n_events through intake + sequencer; returns the number of runs."""
    conn = connect(settings)
    publish_policy(conn, settings, load_pack_text(PACK, "bench.yaml"))
    made = runs = 0
    batch: list[EncodedEvent] = []
    while made < n_events:
        batch += _run(runs, per_run, settings)
        runs += 1
        made += per_run
        if len(batch) >= 20_000 or made >= n_events:
            submit_encoded(conn, batch)
            try_sequence(conn, settings, wait=True)
            batch = []
            if runs % 5000 < 1000 // per_run + 1:
                print(f"  appended {made:,} events", flush=True)
    conn.execute("ANALYZE ledger_events")
    conn.close()
    return runs


def cli(settings: Settings, *args: str) -> float:
    """Seconds one real `ledger` process takes (it must exit 0)."""
    env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}
    ledger_bin = str(Path(sys.executable).parent / "ledger")
    with Timer() as t:
        done = subprocess.run([ledger_bin, *args], env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ledger {' '.join(args)}: exit {done.returncode}: "
                         f"{done.stderr.decode()[-500:]}")
    return t.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-run", type=int, default=20)
    args = parse_args(parser, QUICK)
    report = Report("slo")
    settings = fresh_settings("slo")
    print(f"filling {args.events:,} events ({args.per_run} per run)…", flush=True)
    with Timer() as t:
        runs = fill(settings, args.events, args.per_run)
    report.add("fill", args.events / t.seconds, "events/s")
    cli(settings, "runs", "--limit", "1")  # warm the cache for everyone alike
    base = report.add("runs_page_s", cli(settings, "runs", "--limit", "50"), "s", "lower")
    with connect(settings) as conn, Timer() as q:  # the SQL aggregate alone, first reader,
        with conn.transaction():                     # with the settings compute_slis uses
            conn.execute(query("slo_parallel"))
            conn.execute(query("slo_groups"), {"since": None, "until": None, "agent": None,
                                               "tenant": None, "include_gate": False,
                                               "gate_runs": []}).fetchall()
    report.add("slo_query_s", q.seconds, "s", "lower")
    cold = report.add("slo_first_s", cli(settings, "slo", "--json"), "s", "lower", base)
    full = report.add("slo_s", cli(settings, "slo", "--json"), "s", "lower", base)
    tenth = (T0 + timedelta(minutes=runs * 9 // 10)).isoformat()
    part = report.add("slo_last_tenth_s", cli(settings, "slo", "--since", tenth), "s",
                      "lower", full)
    print(f"runs {runs:,}; ledger runs (page) {base:.2f}s; slo query alone {q.seconds:.2f}s")
    print(f"ledger slo over {args.events:,} events: first {cold:.2f}s, again {full:.2f}s "
          f"(goal <= 5 s; {full / base:.1f}x `ledger runs`); last tenth of the runs {part:.2f}s")
    report.emit(args)


if __name__ == "__main__":
    main()
