"""Export and verify-bundle throughput and peak memory for N events (default 1M).

Targets: `ledger export` of N=1M events <= 15 s; verify-bundle hashing (leaf recompute + tree)
>= 500,000 events/s per core; peak memory flat in N. Each timed step runs in a forked child; its
peak RSS comes from wait4 (that child only) and `*_rss_growth_mib` subtracts the RSS the child
inherited at fork, which is what must stay flat in N. The hashing figure times what
verify-bundle runs (`leaf_hashes` + `CompactRange.append_many`) in this process on one core,
next to a baseline measured in the same run (hashing and appending leaf by leaf), with the ratio.
`export_cpu_s` (CPU of the export process, all threads; PostgreSQL not included) does not
depend on what else runs on the machine, unlike wall time. Setup (not timed) writes synthetic
chained runs through the real intake + sequencer path. Uses LEDGER_DSN when set, else an
embedded PostgreSQL in a temporary home; BENCH_HOME reuses a home.

    .venv/bin/python bench/bench_export.py --events 200000 [--quick] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import pyarrow.parquet as pq

from bench.report import Report, parse_args
from exporters.bundle import ExportParams, export_bundle
from exporters.bundle_events import leaf_hashes
from exporters.bundle_verify import verify_bundle
from ledger import ids
from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.gcpause import gc_paused
from ledger.merkle import CompactRange
from ledger.store.append import EncodedEvent, submit_encoded
from ledger.store.sequencer import try_sequence

QUICK = {"events": 20_000}
SINCE, UNTIL = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"


def _run(t0: int, settings: Settings) -> list[EncodedEvent]:
    run_id = uuid.uuid4()
    out: list[EncodedEvent] = []
    prev: str | None = None
    kinds = ["run.started", "tool.call.started", "tool.call.ended", "llm.call.ended", "run.ended"]
    for i, kind in enumerate(kinds):
        table: dict[str, dict[str, Any]] = {
            "run.started": {"task": "bench"},
            "tool.call.started": {
                "tool_call_id": "t0",
                "tool": "crm.update",
                "args": {"i": i},
                "args_hash": "0" * 64,
                "side_effect": True,
            },
            "tool.call.ended": {"tool_call_id": "t0", "tool": "crm.update", "status": "ok"},
            "llm.call.ended": {
                "call_id": "c",
                "cost": {"amount_usd": "0.01", "price_table_version": "b"},
            },
            "run.ended": {"status": "succeeded", "event_count": 5, "last_hash": prev},
        }
        data = table[kind]
        event: dict[str, Any] = {
            "type": kind,
            "schema_version": 1,
            "event_id": str(ids.new_id()),
            "run_id": str(run_id),
            "run_seq": i,
            "occurred_at": ids.format_timestamp(t0 + i),
            "tenant": "default",
            "agent": {"name": "bench-agent"},
            "principal": {"initiating_user": "alice", "roles": []},
            "correlation": {},
            "source": {"framework": "python", "integration": "native", "schema": "agent-ledger/1"},
            "trust": "live",
            "versions": {"model": "m1"},
            "data": data,
        }
        if prev is not None:
            event["prev_run_hash"] = prev
        body = canonical_bytes({k: v for k, v in event.items() if v is not None})
        prev = hashlib.sha256(b"\x00" + body).hexdigest()
        out.append(
            EncodedEvent(uuid.UUID(event["event_id"]), settings.origin("default"), run_id, i, body)
        )
    return out


def setup(settings: Settings, n: int) -> None:
    conn = connect(settings, migrate=True)
    have = conn.execute("SELECT count(*) FROM ledger_events").fetchone()
    if have and int(have[0]) >= n:
        return
    t0 = ids.parse_timestamp("2026-01-05T00:00:00Z")
    started = time.perf_counter()
    chunk: list[EncodedEvent] = []
    for r in range(n // 5):
        chunk += _run(t0 + r * 10**6, settings)
        if len(chunk) >= 50_000:
            submit_encoded(conn, chunk)
            try_sequence(conn, settings, wait=True)
            chunk = []
            print(f"\rsetup {5 * (r + 1)}/{n}", end="", file=sys.stderr)
    submit_encoded(conn, chunk)
    try_sequence(conn, settings, wait=True)
    print(f"\nsetup done in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def in_child(fn: Any) -> tuple[float, float, float, float]:
    """Run fn() in a fork; return (seconds, child peak RSS MiB, RSS inherited at fork MiB,
    child CPU seconds over all its threads: the load-independent cost on a shared machine)."""
    inherited = _rss_mib()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            fn()
        except SystemExit as exc:
            code = int(exc.code or 0)
        except BaseException as exc:
            print(f"child failed: {exc}", file=sys.stderr)
            code = 1
        os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if status:
        raise SystemExit("child failed")
    return elapsed, usage.ru_maxrss / 1024, inherited, usage.ru_utime + usage.ru_stime


def hash_rates(bodies: list[bytes]) -> tuple[float, float]:
    """Events/s of verify-bundle's hashing (leaves + tree) and of the per-leaf baseline."""
    with gc_paused():
        started = time.perf_counter()
        CompactRange().append_many(leaf_hashes(bodies))
        fast = time.perf_counter() - started
        started = time.perf_counter()
        tree = CompactRange()
        for body in bodies:
            tree.append(hashlib.sha256(b"\x00" + body).digest())
        base = time.perf_counter() - started
    return len(bodies) / fast, len(bodies) / base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parse_args(parser, QUICK)
    home = Path(os.environ.get("BENCH_HOME") or tempfile.mkdtemp(prefix="bench-export-"))
    settings = Settings(home=home, dsn=os.environ.get("LEDGER_DSN") or None, batch_size=50_000)
    setup(settings, args.events)
    out = home / f"bundle-{ids.new_id()}"

    def do_export() -> None:
        export_bundle(
            connect(settings),
            settings,
            ExportParams(since=SINCE, until=UNTIL, out=out, record=False),
        )

    load = os.getloadavg()[0]
    t_exp, rss_exp, base_exp, cpu_exp = in_child(do_export)
    t_ver, rss_ver, base_ver, cpu_ver = in_child(
        lambda: sys.exit(0 if verify_bundle(out, None).valid else 1)
    )
    bodies = [
        b.encode()
        for b in pq.read_table(out / "ledger/events.parquet", columns=["body"])
        .column("body")
        .to_pylist()
    ]
    rate, base_rate = hash_rates(bodies)
    n = len(bodies)
    summary = {
        "events": n,
        "load_avg_1m_at_start": round(load, 2),
        "export_s": round(t_exp, 2),
        "export_cpu_s": round(cpu_exp, 2),
        "export_events_per_s": round(n / t_exp),
        "export_peak_rss_mib": round(rss_exp, 1),
        "export_rss_growth_mib": round(rss_exp - base_exp, 1),
        "verify_s": round(t_ver, 2),
        "verify_cpu_s": round(cpu_ver, 2),
        "verify_events_per_s": round(n / t_ver),
        "verify_peak_rss_mib": round(rss_ver, 1),
        "verify_rss_growth_mib": round(rss_ver - base_ver, 1),
        "hash_events_per_s_one_core": round(rate),
        "hash_baseline_events_per_s": round(base_rate),
        "hash_ratio_vs_baseline": round(rate / base_rate, 2),
        "export_target_met_at_1M": t_exp * 1_000_000 / n <= 15,
        "hash_target_met": rate >= 500_000,
    }
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    report = Report("export")
    report.add_mapping(summary)
    report.emit(args)


if __name__ == "__main__":
    main()
