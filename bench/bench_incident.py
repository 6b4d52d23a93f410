"""The 3 a.m. incident walk, scripted: board -> the failing run -> Trace -> Stop -> Undo dry run.

    python bench/bench_incident.py [--repeat 3] [--vs ../base] [--tree PATH] [--quick] [--json]

On a fresh demo ledger (`exporters.demo.story.record_story`, what `ledger demo` records) the
real app runs headless (Textual Pilot, `run_test(size=...)`) and is driven by the keys its
screens bind: the cursor goes to the prompt-injection run (the incident, with failing rules),
`s` opens Trace/Stop/Undo, `2` the Stop tab where the reason and the typed STOP go through the
form, `3` + `y` the undo plan with its dry run. Three times are measured, each from the key that
asks to the moment the answer is there:
  trace_s   `s` -> the trace (initiator, run chain) is rendered;
  stop_s    Enter on the typed STOP -> the stop is a row of `ledger_stops` (read from another
            connection: recorded in the ledger, not merely acknowledged on screen);
  undo_s    `y` -> the dry run's result (a verdict per step, or the failure) is shown.
Keys the form lost on the way (issue 18: the stop form eats its first character) are counted
as `form_keys_lost` and then put right, so the walk still ends with a stop.

Baseline, measured in the same run: `roundtrip_s`, a trivial Textual app doing what every step
above does at its smallest — a key starts a thread worker, the worker runs `SELECT 1` on an
open connection to the same server, a message carries the answer back and a Static paints it.
It contains none of the ledger's code, so it is the same in both trees and the ratios compare
the incident flow across trees on a noisy shared machine (the board's own first paint, also
reported, is code that other slices change, so it would be a moving yardstick).

Widgets are found by id and type (fallbacks by type), the run row by its key, never by screen
coordinates: layout changes of the board, forms or undo pane do not break the walk. LISTEN is
off (`listen=False`): live updates are bench_tui's and the tmux tests'; here they add noise.
Self-contained on purpose: `--vs PATH` runs this very file with PATH's own interpreter and
`--tree PATH --serve` (PATH first on sys.path, cwd PATH), so a tree that never had this script
(the "before" tree) walks exactly the same way; the two trees' walks alternate, one each in
turn, so both see the same machine noise (these machines are 2 shared cores).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from subprocess import PIPE
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling below, in any tree
from incident_walk import roundtrip, walk

QUICK = {"repeat": 1, "ledger": "scenario"}
MARKER = "BENCH-JSON "  # the line bench/run_all.py reads (bench/report.py's format)
SIZE = (160, 48)
WALK = ("board_s", "trace_s", "stop_s", "undo_s")


@dataclass(frozen=True)
class Figure:
    """One figure, in bench/report.py's JSON shape (kept here: this file runs in other trees)."""

    name: str
    value: float
    unit: str
    better: str = "lower"
    baseline: float | None = None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="walks; each figure is a median")
    parser.add_argument("--vs", type=Path, help="another checkout to walk too (its own .venv)")
    parser.add_argument("--tree", type=Path, help="walk the code of this checkout")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=SIZE[0])
    parser.add_argument("--height", type=int, default=SIZE[1])
    parser.add_argument("--ledger", choices=("demo", "scenario"), default="demo", help="story")
    parser.add_argument("--quick", action="store_true", help=f"small sizes: {QUICK}")
    parser.add_argument("--json", action="store_true", help=f"also print one {MARKER}{{...}} line")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    return args


# ---------------------------------------------------------------------------- the ledger
def fresh_ledger(kind: str) -> tuple[Any, str]:
    """Settings of a new database holding the `kind` story (see `seed`), and its incident run."""
    import psycopg
    from psycopg import conninfo

    from ledger.config import Settings

    admin = os.environ.get("LEDGER_BENCH_DSN")
    if not admin:
        from ledger.db.embedded import embedded_dsn

        admin = embedded_dsn(Path(tempfile.gettempdir()) / "ledger-bench-pg")
    name = f"bench_incident_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    atexit.register(_drop, admin, name)
    home = Path(tempfile.mkdtemp(prefix="ledger-bench-incident-"))
    settings = Settings(home=home, dsn=conninfo.make_conninfo(admin, dbname=name))
    return settings, seed(settings, kind)


def seed(settings: Any, kind: str) -> str:
    """Record the story; the incident run's id. `demo`: `ledger demo`'s three days and incident
    (failing rules, a registry, ~50 runs); `scenario`: ledger.scenarios' one incident run, for
    --quick and tests (seconds instead of a dozen, the same screens)."""
    from ledger.db.connect import connect
    from ledger.store.sequencer import try_sequence

    with connect(settings, migrate=True) as conn:
        if kind == "demo":
            from exporters.demo.story import record_story

            run_id = record_story(settings, conn).incident["prompt_injection"]
        else:
            from ledger.scenarios import incident_events
            from ledger.store.append import submit

            events = incident_events()
            submit(conn, events, settings)
            run_id = str(events[0].run_id)
        try_sequence(conn, settings, wait=True)  # as `ledger demo` does before reporting
    return run_id


def _drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------- the two trees
class Local:
    """This interpreter's tree: a fresh ledger, then walks and round trips on demand."""

    def __init__(self, args: argparse.Namespace) -> None:
        t0 = time.perf_counter()
        self.size = (args.width, args.height)
        self.settings, self.run_id = fresh_ledger(args.ledger)
        print(
            f"  {args.ledger} ledger recorded in {time.perf_counter() - t0:.1f}s", file=sys.stderr
        )

    def walk(self) -> dict[str, float]:
        return asyncio.run(walk(self.settings, self.run_id, self.size))

    def base(self) -> float:
        return asyncio.run(roundtrip(self.settings.dsn, self.size))


class Remote:
    """Another tree: this file under its interpreter (`--tree --serve`), asked line by line, so
    its walks interleave with ours and both sides share the machine's noise."""

    def __init__(self, tree: Path, args: argparse.Namespace) -> None:
        python = tree / ".venv" / "bin" / "python"
        if not python.exists():
            raise SystemExit(f"{python} is missing: run `make setup` in {tree}")
        argv = [str(python), str(Path(__file__).resolve()), "--tree", str(tree), "--serve"]
        argv += ["--ledger", args.ledger, "--width", str(args.width), "--height", str(args.height)]
        self.proc = subprocess.Popen(argv, cwd=tree, text=True, stdin=PIPE, stdout=PIPE)
        self.tree = tree
        self.ask("ready")

    def ask(self, what: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER) :])
        raise SystemExit(f"{self.tree}: exit {self.proc.wait()} (its stderr is above)")

    def walk(self) -> dict[str, float]:
        return dict(self.ask("walk"))

    def base(self) -> float:
        return float(self.ask("base"))

    def close(self) -> None:
        """End the other side (it drops its ledger database on the way out)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def serve(args: argparse.Namespace) -> int:
    """Answer `ready`, `walk` and `base` on stdin with one MARKER line each (for Remote)."""
    side = Local(args)
    for line in sys.stdin:
        what = line.strip()
        answer = side.walk() if what == "walk" else side.base() if what == "base" else what
        print(MARKER + json.dumps(answer), flush=True)
    return 0


def figures(walks: list[dict[str, float]], base: float) -> list[Figure]:
    """Medians of the walks against the round trip, and the counts that must not change."""
    timed = [Figure(k, statistics.median(w[k] for w in walks), "s", baseline=base) for k in WALK]
    lost, steps = max(w["form_keys_lost"] for w in walks), walks[-1]["undo_steps"]
    return [
        *timed,
        Figure("roundtrip_s", base, "s"),
        Figure("form_keys_lost", lost, "count", better="equal"),
        Figure("undo_steps", steps, "count", better="equal"),
    ]


def measure(args: argparse.Namespace) -> dict[str, list[Figure]]:
    """Walk each tree `repeat` times, interleaved tree by tree (first one, then the other
    first), so a walk's position in the round is no advantage; figures per tree."""
    sides: dict[str, Local | Remote] = (
        {"before": Remote(args.vs.resolve(), args)} if args.vs else {}
    )
    sides["after" if args.vs else "this tree"] = Local(args)
    walks: dict[str, list[dict[str, float]]] = {label: [] for label in sides}
    for n in range(args.repeat):
        turn = list(sides.items())
        for label, side in turn[::-1] if n % 2 else turn:  # who goes first alternates too
            w = side.walk()
            walks[label].append(w)
            ms = ", ".join(f"{k} {w[k] * 1000:.0f} ms" for k in WALK)
            print(f"  walk {n + 1} {label}: {ms}", file=sys.stderr)
    out = {label: figures(walks[label], side.base()) for label, side in sides.items()}
    for side in sides.values():
        if isinstance(side, Remote):
            side.close()
    return out


def table(columns: dict[str, list[Figure]]) -> str:
    """Absolute ms and ratio to the round trip, one column pair per tree, then after/before."""
    labels = list(columns)
    rows = [["figure"] + [f"{lab} {x}" for lab in labels for x in ("ms", "x rt")]]
    rows[0] += ["after/before"] if len(labels) == 2 else []
    for fig in columns[labels[-1]]:
        found = [next((f for f in columns[lab] if f.name == fig.name), fig) for lab in labels]
        row = [fig.name]
        for f in found:
            row.append(f"{f.value * 1000:.1f}" if f.unit == "s" else f"{f.value:g}")
            row.append(f"{f.value / f.baseline:.1f}" if f.baseline else "-")
        if len(found) == 2:
            row.append(f"{found[1].value / found[0].value:.2f}" if found[0].value else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.tree is not None:  # the other tree's code, first on the path, from its own root
        tree = args.tree.resolve()
        sys.path.insert(0, str(tree))
        os.chdir(tree)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if args.serve:
        return serve(args)
    columns = measure(args)
    print(f"incident walk at {args.width}x{args.height}, median of {args.repeat}; "
          "x rt = ratio to the trivial worker round trip of the same run")  # fmt: skip
    print(table(columns))
    if args.json:
        figures = [asdict(f) for f in list(columns.values())[-1]]
        print(MARKER + json.dumps({"bench": "incident", "figures": figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
