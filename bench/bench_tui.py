"""TUI responsiveness on a large ledger: first paint of the board and of a 1M-event timeline,
jump to the end, scrolling, and memory.

The events go through the real write path (intake + the sequencer, in big batches). The app runs
headless (`App.run_test`) so the figures are the TUI's own work: queries in thread workers plus
rendering. Baseline measured in the same run: the naive approach the timeline avoids — loading
every row of the log into memory (what a plain DataTable needs) — timed and sized alongside.
The app runs as `ledger tui` does (live updates on, so start-up includes the LISTEN loop).
`--tree PATH` also measures another checkout (e.g. the main branch, with its own .venv) on the
same filled database in the same run: each tree is measured in a process of its own interpreter
and code, and the figures are printed as ratios (after / before, and to the naive load).
Usage: python bench/bench_tui.py [--events 1000000] [--per-run 1000] [--no-naive] [--tree PATH]
[--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

# `--measure-in TREE`: this process measures TREE's code (its own interpreter runs it)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(
    0,
    sys.argv[sys.argv.index("--measure-in") + 1]
    if "--measure-in" in sys.argv
    else str(Path(__file__).resolve().parents[1]),
)

from bench.common import Timer, fresh_settings, synthetic_runs
from bench.report import Report, parse_args
from ledger import ids
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.append import submit_encoded
from ledger.store.sequencer import try_sequence

QUICK = {"events": 50_000}


def fill(settings: Settings, n_events: int, per_run: int) -> float:
    """Append n_events through intake + sequencer; returns seconds."""
    conn = connect(settings)
    total = 0.0
    made = 0
    chunk = 100_000
    while made < n_events:
        count = min(chunk, n_events - made)
        runs = synthetic_runs(count, events_per_run=per_run)
        items = [e for run in runs for e in run]
        with Timer() as t:
            for i in range(0, len(items), 20_000):
                submit_encoded(conn, items[i : i + 20_000])
                try_sequence(conn, settings, wait=True)
        total += t.seconds
        made += count
        print(
            f"  appended {made:,} events ({made / total:,.0f} ev/s through the sequencer)",
            flush=True,
        )
    conn.close()
    return total


async def until(pilot: Any, condition: Any, limit: float = 120.0) -> float:
    """Seconds until `condition()` holds, pumping the app's event loop."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > limit:
            raise TimeoutError("condition not reached")
        await pilot.pause(0.005)
    return time.perf_counter() - start


async def measure(settings: Settings) -> dict[str, float]:
    from textual.widgets import DataTable

    from tui.app import LedgerApp
    from tui.screens.timeline import TimelineScreen
    from tui.widgets.event_log import EventLog

    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    out: dict[str, float] = {}
    start = time.perf_counter()
    app = LedgerApp(settings)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(
            pilot,
            lambda: (
                app.screen.query("#runs") and app.screen.query_one("#runs", DataTable).row_count > 0
            ),
        )
        out["board_first_paint_s"] = time.perf_counter() - start
        t0 = time.perf_counter()
        app.push_screen(TimelineScreen(origin=settings.origin()))
        await until(
            pilot,
            lambda: (
                bool(app.screen.query(EventLog))
                and app.screen.query_one(EventLog).row(0) is not None
            ),
        )
        out["timeline_first_paint_s"] = time.perf_counter() - t0
        log = app.screen.query_one(EventLog)
        out["timeline_rows"] = float(log.count)
        t0 = time.perf_counter()
        await pilot.press("end")
        await until(pilot, lambda: log.row(log.count - 1) is not None)
        out["jump_to_end_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(100):  # the binding's action, without Pilot's per-key settling overhead
            log.action_page(-1)
            await pilot.pause(0)
        await until(pilot, lambda: log.row(log.cursor) is not None)
        out["100_pageups_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        screen: Any = app.screen
        screen.jump_to(ids.parse_timestamp("2026-01-01T00:00:00Z"))  # what `g` + a time does
        await until(pilot, lambda: log.cursor == 0 and log.row(0) is not None)
        out["jump_to_time_s"] = time.perf_counter() - t0
        out["pages_cached"] = float(log.loaded_pages())
        out["rss_delta_mb"] = (proc.memory_info().rss - rss0) / 1e6
    return out


def naive_baseline(settings: Settings) -> dict[str, float]:
    """Load every row of the log into memory (what a whole-table widget needs)."""
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    with connect(settings) as conn, Timer() as t:
        rows = conn.execute(
            "SELECT seq, recorded_at, body FROM ledger_events WHERE origin = %s ORDER BY seq",
            (settings.origin(),),
        ).fetchall()
    result = {
        "naive_load_all_s": t.seconds,
        "naive_rss_delta_mb": (proc.memory_info().rss - rss0) / 1e6,
        "naive_rows": float(len(rows)),
    }
    del rows
    return result


def measure_tree(tree: Path, settings: Settings) -> dict[str, float]:
    """`measure` of another checkout's code, run by its own interpreter on the same database."""
    out = subprocess.run(
        [str(tree / ".venv/bin/python"), __file__, "--measure-in", str(tree),
         "--dsn", settings.dsn or "", "--home", str(settings.home)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def compare(tree: Path, before: dict[str, float], after: dict[str, float]) -> None:
    """First paints of both trees, as after/before ratios."""
    print(f"before = {tree}")
    for key in ("board_first_paint_s", "timeline_first_paint_s", "jump_to_end_s"):
        ratio = after[key] / before[key] if before[key] else float("nan")
        print(f"{key:<24} before {before[key]:.3f}s after {after[key]:.3f}s ratio {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-run", type=int, default=1000)
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--tree", type=Path, help="another checkout to measure (before)")
    parser.add_argument("--measure-in", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parse_args(parser, QUICK)
    if args.measure_in:
        found = asyncio.run(measure(Settings(home=args.home, dsn=args.dsn)))
        print(json.dumps(found))
        return
    report = Report("tui")
    settings = fresh_settings("tui")
    print(f"filling {args.events:,} events ({args.per_run} per run)…", flush=True)
    report.add("fill", args.events / fill(settings, args.events, args.per_run), "events/s")
    # each tree in a fresh process of its own, so neither inherits the other's imports
    before = measure_tree(args.tree.resolve(), settings) if args.tree else None
    figures = measure_tree(Path(__file__).resolve().parents[1], settings)
    if before is not None and args.tree:
        compare(args.tree, before, figures)
        report.add_mapping({f"before_{k}": v for k, v in before.items()})
    for key, value in figures.items():
        print(f"{key:<24} {value:,.3f}")
    base = {} if args.no_naive else naive_baseline(settings)
    report.add_mapping({**figures, **base})
    if base:
        for key, value in base.items():
            print(f"{key:<24} {value:,.3f}")
        paint, naive = figures["timeline_first_paint_s"], base["naive_load_all_s"]
        board = figures["board_first_paint_s"]
        print(
            f"{'ratio first paint':<24} timeline {paint:.3f}s vs naive load "
            f"{naive:.3f}s = {naive / paint:,.0f}x faster; board {board:.3f}s = "
            f"{board / naive:.2f} of the naive load"
        )
        print(
            f"{'ratio memory':<24} {figures['rss_delta_mb']:.1f} MB "
            f"vs {base['naive_rss_delta_mb']:.1f} MB"
        )
    report.emit(args)


if __name__ == "__main__":
    main()
