"""Drain rate of a pre-filled intake: N `ledger serve` processes (one per tenant) against one.

The intake is filled straight with COPY (valid chained runs from bench/common.py, not through
writers: writers would compete for the same cores), identically in two databases. Each drain
starts with every sequencer registered and waiting behind a held key-operations lock (as
behind a rotation), so process start-up is not measured; the clock runs from the release to an
empty intake. Baseline, same run: one `ledger serve`. Goal (issue 20): >= 1.6x with 4 on 2
cores.
Usage: python bench/bench_drain.py [--events N] [--tenants T] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import Timer, discard, fresh_settings, synthetic_runs
from bench.report import Report, parse_args
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.sequencer import log_signer

QUICK = {"events": 40_000}
LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
CHUNK = 50_000


def _load(events: int, tenants: list[str], targets: list[Settings]) -> None:
    """COPY `events` events (runs of 50) spread over the tenants into each target's intake."""
    conns = [connect(s) for s in targets]
    per = events // len(tenants)
    for tenant in tenants:
        for start in range(0, per, CHUNK):
            rows = [
                (e.event_id, e.origin, e.run_id, e.run_seq, e.body)
                for run in synthetic_runs(min(CHUNK, per - start), tenant=tenant)
                for e in run
            ]
            for conn in conns:
                with conn.cursor().copy(
                    "COPY ledger_intake (event_id, origin, run_id, run_seq, body) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
    for conn in conns:
        conn.execute("VACUUM ANALYZE ledger_intake")
        conn.close()


def _count(conn: psycopg.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


def _drain(settings: Settings, tenants: list[str | None]) -> tuple[float, int]:
    """Seconds for len(tenants) serve processes to empty the intake, and events sequenced."""
    conn = connect(settings)
    log_signer(settings, conn)  # one log key in the shared home, made before they start
    gate = connect(settings)
    gate.execute("BEGIN")
    gate.execute("SELECT 1 FROM ledger_sequencer_state FOR UPDATE")  # every batch waits
    env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}
    procs = [
        subprocess.Popen([LEDGER_BIN, "serve", *(["--tenant", t] if t else [])], env=env,
                         stderr=subprocess.DEVNULL)
        for t in tenants
    ]
    try:
        while _count(conn, "SELECT count(*) FROM ledger_sequencer_holders") < len(procs):
            time.sleep(0.05)
        with Timer() as t:
            gate.execute("COMMIT")
            while _count(conn, "SELECT 1 FROM ledger_intake LIMIT 1"):
                time.sleep(0.05)
        return t.seconds, _count(conn, "SELECT count(*) FROM ledger_events")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=60)
        gate.close()
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--tenants", type=int, default=4)
    args = parse_args(parser, QUICK)
    report = Report("drain")
    tenants = [f"t{i}" for i in range(args.tenants)]
    one, many = fresh_settings("drain1"), fresh_settings("drainn")
    with Timer() as load:
        _load(args.events, tenants, [one, many])
    print(f"loaded {args.events:,} events over {len(tenants)} tenants into two intakes "
          f"in {load.seconds:.1f} s")
    seconds, done = _drain(one, [None])
    discard(one)  # its autovacuum would compete with the next drain
    base = report.add("drain_1_sequencer", done / seconds, "events/s")
    print(f"1 sequencer: {done:,} events in {seconds:.1f} s = {base:,.0f} events/s")
    seconds, done = _drain(many, list(tenants))
    rate = report.add(f"drain_{len(tenants)}_sequencers", done / seconds, "events/s",
                      baseline=base)
    print(f"{len(tenants)} sequencers: {done:,} events in {seconds:.1f} s = {rate:,.0f} "
          f"events/s ({rate / base:.2f}x one; goal >= 1.6x on 2 cores)")
    discard(many)
    report.emit(args)


if __name__ == "__main__":
    main()
