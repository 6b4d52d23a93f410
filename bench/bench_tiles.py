"""Static tlog-tiles export: throughput (tiles/s, events/s) and bytes on disk per 1M events.

Baseline, measured in the same run: reading the same tiles and bodies from PostgreSQL without
writing anything (what the export cannot avoid). The export then writes every hash tile and
entry bundle to a fresh directory (temp file, fsync, rename; checkpoint last); a second export
of the unchanged log shows the incremental no-op cost. Bytes on disk per 1M events are
extrapolated from the measured size of the fresh export (with and without entry bundles).
Usage: python bench/bench_tiles.py [--events N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timer, discard, fresh_settings, synthetic_runs
from bench.report import Report, parse_args
from ledger.db.connect import connect
from ledger.store.append import submit_encoded
from ledger.store.read import latest_checkpoint
from ledger.store.sequencer import try_sequence
from ledger.store.tiles import iter_bodies, read_tiles
from ledger.tiles_static import export_tiles, tiles_for_size

QUICK = {"events": 20_000}


def _disk(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parse_args(parser, QUICK)
    report = Report("tiles")
    items = [e for r in synthetic_runs(args.events) for e in r]
    settings = fresh_settings("tiles")
    conn = connect(settings)
    try:
        for i in range(0, len(items), 5000):
            submit_encoded(conn, items[i : i + 5000])
            try_sequence(conn, settings, wait=True)
        origin = settings.origin()
        latest = latest_checkpoint(conn, origin)
        assert latest is not None
        size = latest.tree_size
        specs = tiles_for_size(size)
        with Timer() as base:
            for start in range(0, len(specs), 512):
                read_tiles(conn, origin, {(s.level, s.index) for s in specs[start : start + 512]})
            nbytes = sum(len(b) for b in iter_bodies(conn, origin, 0, size))
        read_rate = report.add("read_only_events", size / base.seconds, "events/s")
        print(f"baseline: read {len(specs)} tiles and {size:,} bodies ({nbytes:,} bytes) from "
              f"PostgreSQL without writing: {read_rate:,.0f} events/s")
        with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp:
            out = Path(tmp)
            with Timer() as t:
                done = export_tiles(conn, origin, out / "full")
            files = done.tiles_written + done.entries_written
            tiles_rate = report.add("export_tiles", files / t.seconds, "tiles/s")
            rate = report.add("export_events", size / t.seconds, "events/s", baseline=read_rate)
            with Timer() as noop:
                again = export_tiles(conn, origin, out / "full")
            assert again.tiles_written == again.entries_written == 0
            report.add("noop_export", noop.seconds * 1000, "ms", "lower")
            per_m = report.add("bytes_per_1m_events", _disk(out / "full") * 1e6 / size, "bytes",
                               "lower")
            export_tiles(conn, origin, out / "hashes", entries=False)
            hashes_m = report.add("bytes_per_1m_events_no_entries",
                                  _disk(out / "hashes") * 1e6 / size, "bytes", "lower")
            shutil.rmtree(out / "hashes")
        print(f"export of {size:,} events ({done.tiles_written} hash tiles, "
              f"{done.entries_written} entry bundles): {tiles_rate:,.0f} tiles/s, {rate:,.0f} "
              f"events/s ({rate / read_rate:.2f}x reading the same from PostgreSQL); unchanged "
              f"re-export {noop.seconds * 1000:.1f} ms")
        print(f"on disk per 1M events: {per_m / 1e6:,.1f} MB with entry bundles, "
              f"{hashes_m / 1e6:,.1f} MB hash tiles only")
    finally:
        conn.close()
        discard(settings)
    report.emit(args)


if __name__ == "__main__":
    main()
