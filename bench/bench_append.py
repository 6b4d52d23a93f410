"""Append throughput (1 and 8 writer processes, sequenced and checkpointed) and latency.

Baseline, measured in the same run: a raw COPY of the same rows into a plain table with the same
columns (no intake, no hashing, no signing). Prints events/s and the ratio to that baseline.
The 8-writer run is measured twice: writers as the database owner (embedded mode: no row-level
security) and writers as a LOGIN role bound to the tenant (`ledger db writer add`: RLS on every
intake row, submission through the read API), as in production; the sequencer stamps both.
Usage: python bench/bench_append.py [--events N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import multiprocessing as mp
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg import conninfo

from bench.common import Timer, discard, fresh_settings, synthetic_runs
from bench.report import Report, parse_args
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.append import EncodedEvent, submit_encoded
from ledger.store.sequencer import try_sequence

QUICK = {"events": 20_000}
HOOKS_BATCH = 500  # ledger.hooks.writer's default: what an instrumented agent submits at once


def _writer(
    settings: Settings,
    runs: list[list[EncodedEvent]],
    start: mp.Event,  # type: ignore[valid-type]
    batch: int,
) -> None:
    conn = connect(settings)
    # Round-robin over this writer's runs, so runs interleave in the log as they do in production.
    items = [e for wave in itertools.zip_longest(*runs) for e in wave if e is not None]
    start.wait()  # type: ignore[attr-defined]
    for i in range(0, len(items), batch):
        submit_encoded(conn, items[i : i + batch])


def _sequencer(settings: Settings, stop: mp.Event) -> None:  # type: ignore[valid-type]
    from ledger.serve import serve

    conn = connect(settings)
    flag = threading.Event()

    def relay() -> None:
        stop.wait()  # type: ignore[attr-defined]
        flag.set()

    threading.Thread(target=relay, daemon=True).start()
    serve(conn, settings, flag, idle_sleep=0.002)


def raw_copy_baseline(runs: list[list[EncodedEvent]]) -> float:
    settings = fresh_settings("copy")
    conn = connect(settings)
    conn.execute(
        "CREATE TABLE raw_copy (origin text, seq bigint, event_id uuid, run_id uuid,"
        " run_seq bigint, type text, occurred_at timestamptz, body bytea, leaf_hash bytea)"
    )
    rows = [e for r in runs for e in r]
    with Timer() as t, conn.cursor().copy("COPY raw_copy FROM STDIN") as copy:
        for seq, e in enumerate(rows):
            copy.write_row(
                (
                    e.origin,
                    seq,
                    e.event_id,
                    e.run_id,
                    e.run_seq,
                    "custom",
                    "2026-01-01T00:00:00Z",
                    e.body,
                    b"\x00" * 32,
                )
            )
    conn.close()  # kept until exit: dropping it here slowed the next measurement several-fold
    return len(rows) / t.seconds


def sequenced(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT coalesce(max(tree_size), 0) FROM ledger_checkpoints").fetchone()
    return int(row[0]) if row else 0


def _bound_writer(settings: Settings) -> Settings:
    """Settings for a fresh LOGIN role bound to the default tenant (dropped at exit)."""
    from ledger.store.roles import add_writer

    role, password = f"bench_writer_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    owner = settings.dsn
    assert owner is not None  # fresh_settings always names its database
    with psycopg.connect(owner, autocommit=True) as conn:
        add_writer(conn, role, settings.tenant, None, password)
    atexit.register(_drop_role, owner, role)
    dsn = conninfo.make_conninfo(owner, user=role, password=password)
    return Settings(home=settings.home, dsn=dsn)


def _drop_role(dsn: str, role: str) -> None:
    # Its database is gone by now (discard): roles are the server's, so drop it from postgres.
    with psycopg.connect(conninfo.make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(role)))


def appended(
    writers: int, runs: list[list[EncodedEvent]], batch: int, *, confined: bool = False
) -> float:
    settings = fresh_settings(f"w{writers}")
    try_sequence(connect(settings), settings)  # creates the log key before timing
    ctx = mp.get_context("spawn")
    start, stop = ctx.Event(), ctx.Event()
    shares = [runs[i::writers] for i in range(writers)]
    writer = _bound_writer(settings) if confined else settings
    procs = [ctx.Process(target=_writer, args=(writer, s, start, batch)) for s in shares]
    seq_proc = ctx.Process(target=_sequencer, args=(settings, stop))
    for p in [*procs, seq_proc]:
        p.start()
    time.sleep(2.0)  # let every process connect before the clock starts
    total = sum(len(r) for r in runs)
    conn = connect(settings)
    with Timer() as t:
        start.set()
        for p in procs:
            p.join()
        # The newest checkpoint's size: an index lookup (a count(*) here would steal a core).
        while sequenced(conn) < total:
            time.sleep(0.005)
    stop.set()
    seq_proc.join()
    conn.close()
    discard(settings)
    return total / t.seconds


def latency(samples: int = 500) -> tuple[float, float]:
    settings = fresh_settings("lat")
    conn = connect(settings)
    runs = synthetic_runs(samples, events_per_run=samples)
    times = []
    for e in runs[0]:
        t0 = time.perf_counter()
        submit_encoded(conn, [e])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parse_args(parser, QUICK)
    report = Report("append")
    runs = synthetic_runs(args.events)
    base = report.add("raw_copy", raw_copy_baseline(runs), "rows/s")
    print(f"baseline raw COPY of the same rows: {base:,.0f} rows/s")
    for writers, batch in ((1, 100), (8, 100), (1, HOOKS_BATCH), (8, HOOKS_BATCH)):
        rate = appended(writers, runs, batch)
        report.add(f"append_{writers}w_batch{batch}", rate, "events/s", baseline=base)
        print(
            f"append, {writers} writer(s) submitting {batch} events at a time, sequenced + "
            f"checkpointed: {rate:,.0f} events/s ({rate / base:.2f}x raw COPY)"
        )
    rate = appended(8, runs, HOOKS_BATCH, confined=True)
    report.add(f"append_8w_batch{HOOKS_BATCH}_confined", rate, "events/s", baseline=base)
    print(
        f"append, 8 bound writer roles (RLS) submitting {HOOKS_BATCH} events at a time, "
        f"sequenced + checkpointed: {rate:,.0f} events/s ({rate / base:.2f}x raw COPY)"
    )
    p50, p99 = latency()
    report.add("latency_p50", p50, "ms", "lower")
    report.add("latency_p99", p99, "ms", "lower")
    print(
        f"durable append latency (single event, intake receipt): p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    report.emit(args)


if __name__ == "__main__":
    main()
