"""The figures a benchmark reports, in a form `bench/run_all.py` reads without scraping prose.

Every benchmark keeps printing its human sentences and, with `--json`, also prints one line
`BENCH-JSON {...}` at the end. `--quick` swaps in the script's `QUICK` sizes (a module-level
dict literal of option defaults, read by run_all with `ast` so it can hand the same sizes to an
older checkout whose scripts predate `--quick`). Deliberately free of ledger imports: run_all
uses it to read the figures without importing the code under test.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

MARKER = "BENCH-JSON "

Better = Literal["higher", "lower", "equal"]

# For benchmarks that print `name: value` pairs: which pair is the same-run baseline of which.
PAIR_BASELINES = {
    "export": {"hash_events_per_s_one_core": "hash_baseline_events_per_s"},
    "tui": {
        "timeline_first_paint_s": "naive_load_all_s",
        "rss_delta_mb": "naive_rss_delta_mb",
    },
}
# Context printed beside the figures, not figures (derived ratios, the machine's load).
NOT_FIGURES = ("ratio", "load_avg")


@dataclass(frozen=True)
class Figure:
    """One measured number; `baseline` is the same-run reference it is meant to be read against.

    `better` says which way is an improvement ("equal": a count that must not change, such as
    the number of failing verdicts), so a before/after comparison can say which side is worse.
    """

    name: str
    value: float
    unit: str
    better: Better = "higher"
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        """value / baseline: the figure to compare across runs on a noisy machine."""
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Report:
    """Collects a benchmark's figures and prints them as one JSON line when asked."""

    bench: str
    figures: list[Figure] = field(default_factory=list)

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        better: Better = "higher",
        baseline: float | None = None,
    ) -> float:
        """Record a figure; returns the value so a caller can keep using it inline."""
        self.figures.append(Figure(name, float(value), unit, better, baseline))
        return value

    def add_named(self, name: str, value: float, baseline: float | None = None) -> float:
        """Record a figure whose unit and direction follow from its name's suffix.

        For benchmarks that already print `name value` pairs (`_s`: seconds, `_mib`/`_mb`:
        memory, `per_s`: a rate; anything else is a count that should not change).
        """
        unit: str
        better: Better
        if "per_s" in name:
            unit, better = "events/s", "higher"
        elif name.endswith("_s"):
            unit, better = "s", "lower"
        elif name.endswith(("_mib", "_mb")):
            unit, better = ("MiB" if name.endswith("_mib") else "MB"), "lower"
        else:
            unit, better = "count", "equal"
        return self.add(name, value, unit, better, baseline)

    def add_mapping(self, pairs: Mapping[str, object]) -> None:
        """Record every numeric pair (see `add_named`), with its baseline from PAIR_BASELINES."""
        baselines = PAIR_BASELINES.get(self.bench, {})
        for name, value in pairs.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if any(word in name for word in NOT_FIGURES):
                continue
            base = pairs.get(baselines.get(name, ""))
            self.add_named(name, value, base if isinstance(base, int | float) else None)

    def emit(self, args: argparse.Namespace) -> None:
        """Print the JSON line if the script was run with `--json`."""
        if getattr(args, "json", False):
            payload = {"bench": self.bench, "figures": [asdict(f) for f in self.figures]}
            print(MARKER + json.dumps(payload), flush=True)


def parse_args(parser: argparse.ArgumentParser, quick: Mapping[str, object]) -> argparse.Namespace:
    """Add `--quick` and `--json` to a benchmark's parser and parse the command line.

    `--quick` only changes defaults, so an option given explicitly still wins.
    """
    sizes = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in quick.items())
    parser.add_argument(
        "--quick", action="store_true", help=f"small sizes for a run of seconds: {sizes}"
    )
    parser.add_argument(
        "--json", action="store_true", help=f"also print the figures as one line: {MARKER}{{...}}"
    )
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args()
    return args


def read_figures(stdout: str) -> list[Figure]:
    """The figures of the last `BENCH-JSON` line in a benchmark's output."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            payload = json.loads(line[len(MARKER) :])
            return [Figure(**f) for f in payload["figures"]]
    raise ValueError("no BENCH-JSON line in the output")
