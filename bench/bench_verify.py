"""Verification throughput from PostgreSQL (events/s per core), against in-memory hashing.

Baseline, measured in the same run: recomputing the same leaf hashes from bytes already in
memory (the ceiling for any verifier). `ledger verify` additionally streams the rows with COPY
BINARY, checks every projection column, every run chain, the tree and every checkpoint
signature. Usage: python bench/bench_verify.py [--events N]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # type: ignore[import-untyped]

from bench.common import Timer, fresh_settings, synthetic_runs
from ledger.db.connect import connect
from ledger.store.append import submit_encoded
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
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
    baseline = len(bodies) / base.seconds
    print(f"baseline in-memory leaf recompute: {baseline:,.0f} events/s")
    backend = psutil.Process(conn.info.backend_pid)
    server0 = sum(backend.cpu_times()[:2])
    cpu0 = time.process_time()
    with Timer() as t:
        report = verify_ledger(conn, settings)
    cpu = time.process_time() - cpu0
    server = sum(backend.cpu_times()[:2]) - server0
    assert report.status == "ok", report.reason
    rate = report.events_verified / t.seconds
    per_core = report.events_verified / cpu
    print(
        f"ledger verify from PostgreSQL: {rate:,.0f} events/s wall, {per_core:,.0f} events/s per "
        f"core of verifier CPU ({rate / baseline:.2f}x in-memory hashing); "
        f"{report.checkpoints_verified} checkpoints"
    )
    print(
        f"  PostgreSQL backend CPU meanwhile: {server:.2f} s; events/s per core of verifier plus "
        f"server CPU: {report.events_verified / (cpu + server):,.0f}"
    )


if __name__ == "__main__":
    main()
