"""Verification throughput from PostgreSQL (events/s per core), against in-memory hashing.

Baseline, measured in the same run: recomputing the same leaf hashes from bytes already in
memory (the ceiling for any verifier). `ledger verify` additionally reads the rows from
PostgreSQL in batches, checks every projection column, every run chain, the tree and every
checkpoint signature, every stamp (who submitted, when recorded) and the intake backlog, as the
command does. Verify runs twice in a fresh interpreter, as `ledger verify` does (the
first read of fresh rows also sets their hint bits), and reports the PostgreSQL backend's CPU.
Usage: python bench/bench_verify.py [--events N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import queue
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # type: ignore[import-untyped]

from bench.common import Timer, fresh_settings, synthetic_runs
from bench.report import Report, parse_args
from ledger.backlog import read_backlog
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.append import submit_encoded
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger

QUICK = {"events": 30_000}


def _verify(settings: Settings, out: Any) -> None:
    """In a fresh interpreter, as `ledger verify` runs (not beside the set-up's 200k objects)."""
    conn = connect(settings)
    backend = psutil.Process(conn.info.backend_pid)
    server0 = sum(backend.cpu_times()[:2])
    cpu0 = time.process_time()
    with Timer() as t:
        report = verify_ledger(conn, settings)
        read_backlog(conn, 60.0)  # `ledger verify` reports the intake backlog too
    cpu = time.process_time() - cpu0
    server = sum(backend.cpu_times()[:2]) - server0
    out.put(
        (
            report.status,
            report.reason,
            report.events_verified,
            report.checkpoints_verified,
            t.seconds,
            cpu,
            server,
        )
    )


def _result(out: Any, child: Any) -> tuple[Any, ...]:
    """The child's answer; a child that died without one ends the benchmark instead of hanging."""
    while True:
        try:
            return tuple(out.get(timeout=1.0))
        except queue.Empty:
            if not child.is_alive():
                raise SystemExit(f"verify child died (exit code {child.exitcode})") from None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parse_args(parser, QUICK)
    report = Report("verify")
    runs = synthetic_runs(args.events)
    items = [e for r in runs for e in r]
    settings = fresh_settings("verify")
    conn = connect(settings)
    for i in range(0, len(items), 5000):
        submit_encoded(conn, items[i : i + 5000])
        try_sequence(conn, settings, wait=True)
    bodies = [e.body for e in items]
    with Timer() as base:
        for body in bodies:
            hashlib.sha256(b"\x00" + body).digest()
    baseline = report.add("leaf_recompute", len(bodies) / base.seconds, "events/s")
    print(f"baseline in-memory leaf recompute: {baseline:,.0f} events/s")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    for attempt in ("first", "second"):  # the first read also sets hint bits on fresh rows
        child = ctx.Process(target=_verify, args=(settings, out))
        child.start()
        status, reason, events, checkpoints, wall, cpu, server = _result(out, child)
        child.join()
        assert status == "ok", reason
        rate, per_core = events / wall, events / cpu
        report.add(f"verify_{attempt}_wall", rate, "events/s")
        report.add(f"verify_{attempt}_per_core", per_core, "events/s/core", baseline=baseline)
        report.add(f"verify_{attempt}_server_cpu", server, "s", "lower")
        report.add(
            f"verify_{attempt}_per_core_with_server", events / (cpu + server), "events/s/core"
        )
        print(
            f"ledger verify from PostgreSQL ({attempt} run): {rate:,.0f} events/s wall, "
            f"{per_core:,.0f} events/s per core of verifier CPU ({per_core / baseline:.2f}x "
            f"in-memory hashing); {checkpoints} checkpoints"
        )
        print(
            f"  PostgreSQL backend CPU meanwhile: {server:.2f} s; events/s per core of verifier "
            f"plus server CPU: {events / (cpu + server):,.0f}"
        )
    report.emit(args)


if __name__ == "__main__":
    main()
