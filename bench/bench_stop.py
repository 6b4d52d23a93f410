"""Benchmark of the kill switch: how fast a busy agent in another process obeys a stop.

    .venv/bin/python bench/bench_stop.py [--stops N] [--quick] [--json]

A busy agent (a subprocess calling a decorated side-effecting tool back to back) starts a run,
says so, and keeps calling; this process records `run:<id>` stops through the stop service
(`ledger.stops.request_stop`, what `ledger stop` calls; sequenced before it returns), while a
thread does what `ledger serve` does (keeps intake sequenced). Measured in the same run:
1. stop -> halt latency: from the stop call returning to `RunStopped` raised in the agent
   (wall clocks of one machine), p50 and p99 over every stop (goal p99 < 1 s; aim 100 ms).
   Baseline: the same agent's tool-call interval (one durable intent ack each).
2. Round trips per tool call on the writer's connection (statements counted in the agent):
   the durable intent already was one statement; the live version rides in it, so the figure
   should stay 1.0 (plus one refresh per stop). The stop listener's own statements (polls and
   refreshes on NOTIFY) are reported per tool call beside it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import discard, fresh_settings
from bench.report import Report, parse_args
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.stops import request_stop
from ledger.store.sequencer import try_sequence

QUICK = {"stops": 30}
ROOT = Path(__file__).resolve().parents[1]

AGENT = textwrap.dedent("""
    import statistics, sys, threading, time
    from pathlib import Path
    import psycopg
    import ledger, ledger.hooks as hooks
    from ledger.config import Settings
    from ledger.db.connect import database_dsn

    home, dsn, stops = sys.argv[1], sys.argv[2], int(sys.argv[3])
    counts = {"ledger-writer": 0, "ledger-live": 0}

    class Counting(psycopg.Connection):
        def execute(self, *args, **kwargs):  # one statement = one round trip
            name = threading.current_thread().name
            counts[name] = counts.get(name, 0) + 1
            return super().execute(*args, **kwargs)

    settings = Settings(home=Path(home), dsn=dsn)
    hooks.configure(settings, connect=lambda: Counting.connect(
        database_dsn(settings), autocommit=True), sequence=False)

    @ledger.tool(name="refund")
    def refund(i):
        return i

    for _ in range(stops):
        calls, gaps = 0, []
        before = dict(counts)
        try:
            with ledger.run(agent="bench-stop") as run:
                print("RUN", run.run_id, flush=True)
                last = time.perf_counter()
                while True:
                    refund(calls)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last, calls = now, calls + 1
        except ledger.RunStopped:
            halted = time.time()
            writer = counts["ledger-writer"] - before["ledger-writer"]
            live = counts["ledger-live"] - before["ledger-live"]
            print("HALT", halted, statistics.median(gaps[1:] or gaps or [0.0]), calls, writer,
                  live, flush=True)
    hooks.shutdown()
""")


def stop_run(settings: Settings, run_id: str) -> tuple[float, float]:
    """Record `run:<id>` the operator's way (door + sequencing); (called, returned) times."""
    with connect(settings) as conn:
        try_sequence(conn, settings, wait=True)  # the run is logged (serve would have done it)
        called = time.time()
        request_stop(conn, settings, target=f"run:{run_id}", reason="bench",
                     requested_by="bench")
    return called, time.time()


def sequencer(settings: Settings, done: threading.Event) -> None:
    """What `ledger serve` does meanwhile: keep intake drained, so a stop's own sequencing
    does not wait behind the busy agent's backlog."""
    with connect(settings) as conn:
        while not done.wait(0.02):
            try_sequence(conn, settings)


Row = tuple[float, float, float, int, int, int]


def measure(settings: Settings, stops: int) -> list[Row]:
    """Per stop: (halt - stop called s, halt - stop returned s, tool interval s, calls,
    writer statements, listener statements)."""
    done = threading.Event()
    serve = threading.Thread(target=sequencer, args=(settings, done), daemon=True)
    serve.start()
    try:
        return _measure(settings, stops)
    finally:
        done.set()
        serve.join(30)


def _measure(settings: Settings, stops: int) -> list[Row]:
    proc = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(settings.home), settings.dsn or "", str(stops)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ})
    assert proc.stdout is not None
    out = []
    rng = random.Random(16)
    for _ in range(stops):
        kind, run_id = proc.stdout.readline().split()
        assert kind == "RUN", kind
        uuid.UUID(run_id)
        time.sleep(rng.uniform(0.05, 0.15))  # let it get busy; stops land at random points
        called, returned = stop_run(settings, run_id)
        fields = proc.stdout.readline().split()
        assert fields[0] == "HALT", fields
        halted = float(fields[1])
        out.append((halted - called, halted - returned, float(fields[2]), int(fields[3]),
                    int(fields[4]), int(fields[5])))
    proc.wait(60)
    return out


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1,
                                                   round(0.99 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stops", type=int, default=100)
    args = parse_args(parser, QUICK)
    report = Report("stop")
    settings = fresh_settings("stop")
    rows = measure(settings, args.stops)
    interval = statistics.median(r[2] for r in rows)
    calls = sum(r[3] for r in rows)
    writer_rt = sum(r[4] for r in rows) / calls
    live_rt = sum(r[5] for r in rows) / calls
    report.add("tool_call_interval", interval * 1000, "ms", "lower")
    for label, column in (("started", 0), ("returned", 1)):
        p50, p99 = _percentiles([r[column] for r in rows])
        report.add(f"halt_after_stop_{label}_p50", p50 * 1000, "ms", "lower",
                   baseline=interval * 1000)
        report.add(f"halt_after_stop_{label}_p99", p99 * 1000, "ms", "lower",
                   baseline=interval * 1000)
        print(f"RunStopped in a busy agent after the stop call {label}, {len(rows)} stops: "
              f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (tool-call interval "
              f"{interval * 1000:.2f} ms: p50 {p50 / interval:.1f}x, p99 {p99 / interval:.1f}x)")
    report.add("writer_round_trips_per_tool_call", writer_rt, "count", "lower", baseline=1.0)
    report.add("listener_statements_per_tool_call", live_rt, "count", "lower")
    print(f"statements per tool call on the writer connection: {writer_rt:.3f} (one per durable "
          f"batch, as before: the live version rides in the intent's insert; a tool's outcome "
          f"is sometimes a batch of its own); stop listener: {live_rt:.4f} per call")
    print("(negative 'returned' figures: the agent halted before the operator's call returned; "
          "that call drains intake after the stop is in force)")
    discard(settings)
    report.emit(args)


if __name__ == "__main__":
    main()
