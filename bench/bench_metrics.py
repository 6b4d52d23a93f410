"""Scrape latency of `ledger serve --metrics-addr` /metrics with a large log stored (issue 19
goal: p99 <= 50 ms with 1M events).

The events go through the real write path (intake + the sequencer, in big batches, as
bench_tui.py). The metrics plug-in runs in-process as `ledger serve` runs it (its own threads
and connections, prometheus_client's HTTP server); the figures are wall-clock times of HTTP
GETs of /metrics from this process. Baseline measured in the same run: the same client scraping
prometheus_client's HTTP server over an empty registry (the floor of any exporter: HTTP and
the client's own work), so `ratio` is what the ledger's snapshot adds (a scrape reads memory
only; the database gauges are refreshed by a background thread, exporters/metrics/source.py).
Timed too: how long start() takes to return (the seed runs behind it) and the seed itself (SQL
aggregates over the whole log, once at start), and scrapes taken while the seed runs.
Usage: python bench/bench_metrics.py [--events 1000000] [--per-run 1000] [--scrapes 500]
[--dsn DSN (reuse a filled database: no fill)] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timer, fresh_settings, synthetic_runs
from bench.report import Report, parse_args
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.append import submit_encoded
from ledger.store.sequencer import try_sequence

QUICK = {"events": 20_000, "scrapes": 100}


def fill(settings: Settings, n_events: int, per_run: int) -> float:
    """Append n_events through intake + sequencer; returns seconds."""
    conn = connect(settings)
    total, made = 0.0, 0
    while made < n_events:
        count = min(100_000, n_events - made)
        items = [e for run in synthetic_runs(count, events_per_run=per_run) for e in run]
        with Timer() as t:
            for i in range(0, len(items), 20_000):
                submit_encoded(conn, items[i : i + 20_000])
                try_sequence(conn, settings, wait=True)
        total += t.seconds
        made += count
        print(f"  appended {made:,} events ({made / total:,.0f} ev/s)", flush=True)
    conn.close()
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape_ms(port: int, n: int, warm: int = 5) -> list[float]:
    """Milliseconds of `n` GETs of /metrics on one keep-alive connection (after `warm` more)."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for i in range(n + warm):
        start = time.perf_counter()
        client.request("GET", "/metrics")
        body = client.getresponse().read()
        if i >= warm:
            times.append((time.perf_counter() - start) * 1000)
        assert body is not None
    client.close()
    return times


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def baseline(n: int) -> list[float]:
    """The floor: prometheus_client's server over an empty registry, same client."""
    from prometheus_client import CollectorRegistry, start_http_server

    port = free_port()
    server, _ = start_http_server(port, "127.0.0.1", registry=CollectorRegistry())
    try:
        return scrape_ms(port, n)
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Scraped:
    """The plug-in's figures: start() return and seed seconds, scrape ms while seeding and
    after, bytes of one exposition."""

    started: float
    seeded: float
    during_seed: list[float]
    scrapes: list[float]
    size: int


def ledger_scrapes(settings: Settings, n: int) -> Scraped:
    """The real plug-in, as `ledger serve --metrics-addr` runs it."""
    from exporters.metrics.plugin import MetricsPlugin
    from ledger.serve import ServeContext

    port, stop = free_port(), threading.Event()
    plugin = MetricsPlugin()
    start = time.perf_counter()
    plugin.start(ServeContext(settings, stop, metrics_addr=f"127.0.0.1:{port}"))
    started = time.perf_counter() - start
    assert plugin.source is not None
    during: list[float] = []
    while not plugin.source.seeded.wait(0.05):  # a scrape every 50 ms (Prometheus: 15 s)
        during += scrape_ms(port, 1, warm=0)
    seeded = time.perf_counter() - start
    try:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        client.request("GET", "/metrics")
        size = len(client.getresponse().read())
        client.close()
        return Scraped(started, seeded, during, scrape_ms(port, n), size)
    finally:
        stop.set()
        plugin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-run", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=500)
    parser.add_argument("--dsn", default=None, help="a filled database to reuse (no fill)")
    args = parse_args(parser, QUICK)
    report = Report("metrics")
    if args.dsn:
        settings = Settings(home=Path(tempfile.mkdtemp(prefix="ledger-bench-home-")), dsn=args.dsn)
    else:
        settings = fresh_settings("metrics")
        print(f"filling {args.events:,} events ({args.per_run} per run)…", flush=True)
        report.add("fill", args.events / fill(settings, args.events, args.per_run), "events/s")
    got = ledger_scrapes(settings, args.scrapes)
    scrapes, size, seeded = got.scrapes, got.size, got.seeded
    floor = baseline(args.scrapes)
    report.add("start_s", got.started, "s", "lower")
    report.add("seed_s", seeded, "s", "lower")
    report.add("scrape_p50_ms", statistics.median(scrapes), "ms", "lower",
               statistics.median(floor))  # fmt: skip
    report.add("scrape_p99_ms", p99(scrapes), "ms", "lower", p99(floor))
    print(f"{'start() returned in':<32} {got.started:8.3f} s")
    print(f"{'seed (SQL aggregates, once)':<32} {seeded:8.3f} s")
    if got.during_seed:
        print(f"{'/metrics while seeding':<32} p50 {statistics.median(got.during_seed):6.2f} ms"
              f"  max {max(got.during_seed):6.2f} ms ({len(got.during_seed)} scrapes)")
    print(f"{'exposition':<32} {size:8,} bytes")
    for name, got in (("ledger /metrics", scrapes), ("empty registry (baseline)", floor)):
        print(f"{name:<32} p50 {statistics.median(got):6.2f} ms  p99 {p99(got):6.2f} ms")
    print(f"{'ratio p99':<32} {p99(scrapes) / p99(floor):6.1f}x the empty registry "
          f"(goal p99 <= 50 ms: {'met' if p99(scrapes) <= 50 else 'NOT met'})")
    report.emit(args)


if __name__ == "__main__":
    main()
