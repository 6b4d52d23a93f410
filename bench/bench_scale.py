"""The ledger at scale: full verify with --jobs, incremental verify, export, memory flat in N.

10M events in 4 tenants by default (`bench.bulkload`: COPY straight into the log tables with
valid leaves, run chains, tiles and a signed checkpoint every 100k events; needs ~20 GB of disk
for 10M). Loaded in two halves so memory is measured at N and 2N. Every figure is a ratio
against a baseline of the same run, each command a real `ledger` process whose peak RSS (its
workers included) is sampled:

- `ledger verify --jobs J` against `--jobs 1` on the whole ledger (goal: near J on J idle cores);
- `ledger verify --from-checkpoint FILE` (the last `--tail` events of one tenant) against the
  full verify (goal >= 50x faster); "n/a" where that option does not exist yet;
- `ledger export --tenant T` (the evidence bundle) in events/s against full verify's, and its
  peak RSS;
- peak RSS of `ledger verify` at 2N against N (goal: flat, ratio ~1).

Usage: python bench/bench_scale.py [--events N] [--jobs J] [--tail K] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # type: ignore[import-untyped]
import psycopg

from bench.bulkload import BulkLoader
from bench.common import Timer, fresh_settings
from bench.report import Report, parse_args
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.read import checkpoint_at

QUICK = {"events": 200_000}
LEDGER = Path(sys.executable).with_name("ledger")
MIB = 1 << 20


@dataclass(frozen=True)
class Run:
    """One `ledger` process: wall seconds, peak RSS of it and its children, exit code, output."""

    seconds: float
    peak_mib: float
    code: int
    out: str


def run_ledger(settings: Settings, *args: str) -> Run:
    """Run `ledger ARGS` and sample the RSS of its process tree every 20 ms."""
    env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(LEDGER), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    out = proc.stdout.read().decode() if proc.stdout else ""
    return Run(time.perf_counter() - start, peak / MIB, proc.returncode, out)


def load(
    conn: psycopg.Connection, settings: Settings, tenants: list[str], per_tenant: int,
    every: int, extra: dict[str, tuple[int, ...]],
) -> float:
    """Append `per_tenant` events to each tenant; return events/s (VACUUM included: it sets the
    hint bits a first read would otherwise set, so every verify below reads the same pages)."""
    loader = BulkLoader(conn, settings)
    with Timer() as t:
        for tenant in tenants:
            loader.load(tenant, per_tenant, every=every, extra=extra.get(tenant, ()))
        conn.execute("VACUUM ANALYZE ledger_events")
        conn.execute("VACUUM ANALYZE ledger_tiles")
    return per_tenant * len(tenants) / t.seconds


def verify(settings: Settings, *args: str) -> Run:
    run = run_ledger(settings, "verify", *args)
    if run.code != 0:
        raise SystemExit(f"ledger verify {' '.join(args)} failed: {run.out.strip()[-300:]}")
    return run


def incremental(settings: Settings, conn: psycopg.Connection, origin: str, size: int) -> Run | None:
    """`ledger verify --from-checkpoint FILE` from the checkpoint at `size`; None without the
    option (the incremental slice adds it)."""
    if "--from-checkpoint" not in run_ledger(settings, "verify", "--help").out:
        return None
    stored = checkpoint_at(conn, origin, size)
    assert stored is not None, f"no checkpoint at size {size}"
    note = Path(tempfile.mkdtemp(prefix="ledger-bench-pin-")) / "checkpoint.note"
    note.write_text(stored.note, encoding="utf-8")
    return verify(settings, "--from-checkpoint", str(note), "--json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tail", type=int, default=100_000)
    args = parse_args(parser, QUICK)
    report = Report("scale")
    settings = fresh_settings("scale")
    conn = connect(settings)
    tenants = [f"t{i}" for i in range(args.tenants)]
    per_tenant = args.events // 2 // args.tenants
    every = max(1000, min(100_000, per_tenant // 4))
    tail = min(args.tail, per_tenant)
    final = 2 * per_tenant
    total = final * args.tenants

    rate = load(conn, settings, tenants, per_tenant, every, {})
    at_n = verify(settings, "--json")
    rate = (rate + load(conn, settings, tenants, per_tenant, every, {"t0": (final - tail,)})) / 2
    report.add("bulk_load_per_s", rate, "events/s")
    print(f"bulk load: {rate:,.0f} events/s ({total:,} events in {args.tenants} tenants)")

    full = verify(settings, "--json")
    jobs = verify(settings, "--jobs", str(args.jobs), "--json")
    assert jobs.out == full.out, "--jobs changed the report"
    one = report.add("verify_full_per_s", total / full.seconds, "events/s")
    many = report.add(f"verify_jobs{args.jobs}_per_s", total / jobs.seconds, "events/s",
                      baseline=one)
    print(f"full verify --jobs 1: {one:,.0f} events/s ({full.seconds:.1f} s); --jobs "
          f"{args.jobs}: {many:,.0f} events/s ({jobs.seconds:.1f} s): {many / one:.2f}x")

    inc = incremental(settings, conn, settings.origin("t0"), final - tail)
    if inc is None:
        print(f"incremental verify of the last {tail:,} events: n/a (needs --from-checkpoint)")
    else:
        report.add("verify_incremental_s", inc.seconds, "s", "lower", baseline=full.seconds)
        print(f"incremental verify of the last {tail:,} events: {inc.seconds:.2f} s, "
              f"{full.seconds / inc.seconds:.1f}x faster than full verify")

    out = Path(tempfile.mkdtemp(prefix="ledger-bench-export-")) / "bundle"
    export = run_ledger(settings, "export", "--tenant", "t0", "--since", "2000-01-01T00:00:00Z",
                        "--out", str(out), "--no-record")
    if export.code != 0:
        raise SystemExit(f"ledger export failed: {export.out.strip()[-300:]}")
    exp = report.add("export_tenant_per_s", final / export.seconds, "events/s", baseline=one)
    report.add("export_peak_rss_mib", export.peak_mib, "MiB", "lower")
    print(f"export of one tenant ({final:,} events): {exp:,.0f} events/s ({exp / one:.2f}x full "
          f"verify's rate), peak RSS {export.peak_mib:.0f} MiB")

    report.add("verify_peak_rss_n_mib", at_n.peak_mib, "MiB", "lower")
    report.add("verify_peak_rss_2n_mib", full.peak_mib, "MiB", "lower", baseline=at_n.peak_mib)
    report.add(f"verify_jobs{args.jobs}_peak_rss_mib", jobs.peak_mib, "MiB", "lower")
    print(f"peak RSS of verify: {at_n.peak_mib:.0f} MiB at {total // 2:,} events, "
          f"{full.peak_mib:.0f} MiB at {total:,} ({full.peak_mib / at_n.peak_mib:.2f}x); "
          f"--jobs {args.jobs}: {jobs.peak_mib:.0f} MiB (all processes)")
    report.emit(args)


if __name__ == "__main__":
    main()
