"""Incremental verify of the newest 1% of a log against a full verify of the same log.

Baseline, measured in the same run: `ledger verify` (full) of the whole log. The figure is how
many times faster `verify --from-checkpoint` (ledger.verify_incremental) checks the log when
only the last `--tail` fraction is new since the pinned checkpoint: it reads the new events,
the tiles' frontier at the pin, one index probe per run continued across the pin, and the newer
checkpoints, so its cost follows the new events, not the log. Both run twice in this process
(the first read of fresh rows also sets their hint bits); the second run is reported.
Usage: python bench/bench_incremental.py [--events N] [--tail F] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timer, fresh_settings, synthetic_runs
from bench.report import Report, parse_args
from ledger.db.connect import connect
from ledger.note import Checkpoint, open_note
from ledger.store.append import submit_encoded
from ledger.store.read import latest_checkpoint
from ledger.store.sequencer import try_sequence
from ledger.verify import trusted_verifiers, verify_ledger
from ledger.verify_incremental import verify_incremental

QUICK = {"events": 30_000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--tail", type=float, default=0.01, help="fraction new since the pin")
    args = parse_args(parser, QUICK)
    report = Report("incremental")
    items = [e for r in synthetic_runs(args.events) for e in r]
    settings = fresh_settings("incremental")
    conn = connect(settings)
    cut = len(items) - max(1, int(len(items) * args.tail))
    pin_note = b""
    for lo, hi in [(0, cut), (cut, len(items))]:
        for i in range(lo, hi, 5000):
            submit_encoded(conn, items[i : min(i + 5000, hi)])
            try_sequence(conn, settings, wait=True)
        if not pin_note:
            row = latest_checkpoint(conn, settings.origin())
            assert row is not None
            pin_note = str(row.note).encode()
    verifiers = trusted_verifiers(settings)
    pin = Checkpoint.parse(open_note(pin_note, verifiers).body)
    for _attempt in range(2):
        with Timer() as full:
            assert verify_ledger(conn, settings).status == "ok"
        with Timer() as incr:
            result = verify_incremental(conn, settings, [pin], verifiers=verifiers,
                                        every_origin=False)  # fmt: skip
            assert result.status == "ok", result.reason
    new = result.events_verified
    base = report.add("full_verify_s", full.seconds, "s", "lower")
    report.add("incremental_verify_s", incr.seconds, "s", "lower")
    report.add("speedup_vs_full", base / incr.seconds, "x", "higher", baseline=1.0)
    print(f"full verify of {len(items):,} events: {full.seconds:.2f} s (baseline)")
    print(f"incremental verify of the last {new:,} events (from size {pin.size:,}): "
          f"{incr.seconds:.3f} s = {full.seconds / incr.seconds:.1f}x faster")  # fmt: skip
    report.emit(args)


if __name__ == "__main__":
    main()
