"""Run every benchmark in quick mode and print one table of figures (`make bench`).

    .venv/bin/python bench/run_all.py [--only append,undo] [--repeat N]
    .venv/bin/python bench/run_all.py --against ../base     # before/after on this machine

Each `bench/bench_*.py` runs with `--quick --json` in its own fresh interpreter; its figures come
from its `BENCH-JSON` line, never from its prose. Every run gets a fresh database on one
PostgreSQL server shared by the whole session (LEDGER_BENCH_DSN and LEDGER_DSN point the scripts
at it), so no script pays for starting a server and no run sees another's rows.

With `--against DIR` the same benchmarks also run from the checkout DIR, with DIR's own
`.venv/bin/python` and DIR's own scripts, interleaved before/after/before/after (`--repeat`, 2 by
default) so both sides share the machine's noise; each figure keeps its best run. Scripts that
predate `--quick` get this tree's QUICK sizes as their ordinary options and are read by
`bench.legacy`. Both sides must run the same sizes, so DIR's newer scripts are trusted to keep
the QUICK sizes of this tree. A benchmark that fails makes the exit status non-zero with a
one-line reason; a worse figure does not (on a shared machine that is for a person to judge,
with the noise column beside it).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.legacy import legacy_figures
from bench.report import Figure, read_figures

ROOT = Path(__file__).resolve().parents[1]
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


@dataclass(frozen=True)
class Tree:
    """A checkout whose benchmarks run with its own interpreter."""

    label: str
    root: Path

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    def script(self, bench: str) -> Path:
        return self.root / "bench" / f"bench_{bench}.py"


@dataclass
class Outcome:
    """What one benchmark reported on one tree, over every repeat."""

    runs: list[list[Figure]] = field(default_factory=list)
    error: str | None = None

    def best(self) -> dict[str, Figure]:
        """Each figure's best value over the repeats (by its own direction), in report order."""
        out: dict[str, Figure] = {}
        for figures in self.runs:
            for fig in figures:
                have = out.get(fig.name)
                if have is None or _better(fig, have):
                    out[fig.name] = fig
        return out

    def spread(self, name: str) -> float:
        """Relative spread of one figure over the repeats: this side's own noise."""
        values = [f.value for run in self.runs for f in run if f.name == name]
        if len(values) < 2 or min(values) <= 0:
            return 0.0
        return (max(values) - min(values)) / min(values)


def _better(new: Figure, old: Figure) -> bool:
    if new.better == "higher":
        return new.value > old.value
    if new.better == "lower":
        return new.value < old.value
    return False


def discover(root: Path = ROOT) -> list[str]:
    """Names of every `bench/bench_<name>.py` in a checkout, sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in (root / "bench").glob("bench_*.py"))


def quick_sizes(script: Path) -> dict[str, object] | None:
    """The script's module-level `QUICK` dict, read without importing it (None: no protocol)."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "QUICK" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, dict):
                return {str(k): v for k, v in value.items()}
    return None


def command(tree: Tree, bench: str) -> tuple[list[str], bool]:
    """(argv, speaks --json) for one benchmark of a tree; old scripts get this tree's sizes."""
    script = tree.script(bench)
    if quick_sizes(script) is not None:
        return [str(tree.python), str(script), "--quick", "--json"], True
    sizes = quick_sizes(Tree("this", ROOT).script(bench)) or {}
    options = [s for k, v in sizes.items() for s in (f"--{k.replace('_', '-')}", str(v))]
    return [str(tree.python), str(script), *options], False


def admin_dsn() -> str:
    """The server for the whole session: LEDGER_BENCH_DSN, or the embedded one (stopped at exit)."""
    given = os.environ.get("LEDGER_BENCH_DSN")
    if given:
        return given
    from ledger.db.embedded import embedded_dsn

    return embedded_dsn(Path(tempfile.gettempdir()) / "ledger-bench-pg")


def _stop_own_server() -> None:
    """Stop the embedded server this session used (it would otherwise idle for 15 minutes)."""
    if not os.environ.get("LEDGER_BENCH_DSN"):
        from ledger.db.embedded import stop_embedded

        stop_embedded(Path(tempfile.gettempdir()) / "ledger-bench-pg")


@contextmanager
def fresh_database(admin: str) -> Iterator[str]:
    """A new empty database for one run (dropped after it), as a DSN."""
    import psycopg
    from psycopg import conninfo

    name = f"bench_run_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield conninfo.make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_one(tree: Tree, bench: str, admin: str, timeout: float, log: Path) -> list[Figure]:
    """Run one benchmark once (its output kept in `log`); its figures, or ValueError."""
    argv, speaks_json = command(tree, bench)
    with fresh_database(admin) as dsn:
        env = {**os.environ, "LEDGER_BENCH_DSN": admin, "LEDGER_DSN": dsn}
        # Its own process group: a timeout also ends the worker processes a benchmark spawned.
        proc = subprocess.Popen(
            argv,
            cwd=tree.root,
            env=env,
            text=True,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
    log.write_text(f"$ {' '.join(argv)}\n{stdout}\n--- stderr ---\n{stderr}", encoding="utf-8")
    if proc.returncode == -signal.SIGKILL:
        raise ValueError(f"timed out after {timeout:.0f}s (output in {log})")
    if proc.returncode != 0:
        raise ValueError(f"exit {proc.returncode}: {reason(stderr)}")
    if speaks_json:
        return read_figures(stdout)
    return legacy_figures(bench, stdout)


def reason(stderr: str) -> str:
    """The line that says why: the last exception line, else the last line (warnings follow)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if EXCEPTION_LINE.match(line)]
    return (errors or lines or ["(no stderr)"])[-1]


def run_all(
    trees: Sequence[Tree], benches: Sequence[str], repeat: int, timeout: float, logs: Path
) -> dict[tuple[str, str], Outcome]:
    """Every benchmark on every tree, interleaved tree by tree within each repeat."""
    outcomes = {(t.label, b): Outcome() for t in trees for b in benches}
    admin = admin_dsn()
    for bench in benches:
        for n in range(repeat):
            for tree in trees:
                outcome = outcomes[tree.label, bench]
                if outcome.error:
                    continue
                started = time.perf_counter()
                log = logs / f"{bench}-{tree.label}-{n + 1}.log"
                try:
                    outcome.runs.append(run_one(tree, bench, admin, timeout, log))
                except ValueError as exc:
                    outcome.error = str(exc)
                took = time.perf_counter() - started
                state = "FAILED" if outcome.error else "ok"
                print(f"  {bench:<10} {tree.label:<7} {took:6.1f}s {state}", file=sys.stderr)
    return outcomes


def fmt(value: float | None) -> str:
    """A figure at a readable precision (thousands separated, 3 significant digits below)."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(rows: list[list[str]]) -> str:
    """Left-aligned text columns, two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def single_table(outcomes: dict[tuple[str, str], Outcome], label: str, benches: list[str]) -> str:
    rows = [["benchmark", "figure", "value", "unit", "same-run baseline", "ratio"]]
    for bench in benches:
        for fig in outcomes[label, bench].best().values():
            rows.append(
                [bench, fig.name, fmt(fig.value), fig.unit, fmt(fig.baseline), fmt(fig.ratio)]
            )
    return table(rows)


def verdict(fig: Figure, change: float, noise: float) -> str:
    """'worse'/'better' when after/before moves past the noise in the figure's direction."""
    if fig.better == "equal":
        return "" if abs(change - 1) < 1e-9 else "CHANGED"
    up = change - 1 if fig.better == "higher" else 1 / change - 1 if change else 0.0
    if up < -noise:
        return "worse"
    return "better" if up > noise else ""


def compare_row(bench: str, old: Outcome, new: Outcome, name: str, min_noise: float) -> list[str]:
    """One figure before and after; a side that did not report it shows why."""
    was, now = old.best().get(name), new.best().get(name)
    if was is None and now is not None:
        state = "before failed" if old.error else "new"
        return [bench, name, now.unit, "-", fmt(now.value), "-", "", "", "", state]
    if was is not None and now is None:
        state = "after failed" if new.error else "gone"
        return [bench, name, was.unit, fmt(was.value), "-", "-", "", "", "", state]
    assert was is not None and now is not None  # names come from one side or the other
    change = now.value / was.value if was.value else float("nan")
    noise = max(old.spread(name), new.spread(name), min_noise)
    shown = "" if now.better == "equal" else f"{noise:.0%}"
    row = [bench, name, now.unit, fmt(was.value), fmt(now.value), f"{change:.2f}"]
    return [*row, fmt(was.ratio), fmt(now.ratio), shown, verdict(now, change, noise)]


def compare_table(
    outcomes: dict[tuple[str, str], Outcome], benches: list[str], min_noise: float
) -> str:
    """before, after, after/before and the noise seen between repeats of the same side."""
    rows = [["benchmark", "figure", "unit", "before", "after", "after/before"]]
    rows[0] += ["ratio to baseline: before", "after", "noise", ""]
    for bench in benches:
        old, new = outcomes["before", bench], outcomes["after", bench]
        names = list(new.best()) + [n for n in old.best() if n not in new.best()]
        rows += [compare_row(bench, old, new, name, min_noise) for name in names]
    return table(rows)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="an older checkout to compare with")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. append,undo")
    parser.add_argument("--repeat", type=int, help="runs per side (default 2 with --against)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per benchmark run")
    parser.add_argument(
        "--logs", type=Path, help="keep each run's output here (default: a temp dir)"
    )
    parser.add_argument(
        "--noise", type=float, default=0.10, help="smallest change called better/worse"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    benches = discover()
    if args.only:
        wanted = set(args.only.split(","))
        if unknown := wanted - set(benches):
            raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}")
        benches = [b for b in benches if b in wanted]
    trees = [Tree("after", ROOT)]
    if args.against:
        before = Tree("before", args.against.resolve())
        if not before.python.exists():
            raise SystemExit(f"{before.python} is missing: run `make setup` in {before.root}")
        benches = [b for b in benches if before.script(b).exists()]
        trees.insert(0, before)
    repeat = args.repeat or (2 if args.against else 1)
    logs = args.logs or Path(tempfile.mkdtemp(prefix="ledger-bench-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    try:
        outcomes = run_all(trees, benches, repeat, args.timeout, logs)
    finally:
        _stop_own_server()
    print()
    if args.against:
        print(f"before: {trees[0].root}   after: {ROOT}   best of {repeat} runs each")
        print(compare_table(outcomes, benches, args.noise))
    else:
        print(single_table(outcomes, "after", benches))
    failed = [(k, o.error) for k, o in outcomes.items() if o.error]
    for (label, bench), error in failed:
        print(f"FAILED bench_{bench}.py ({label}): {error}")
    print(f"each run's output: {logs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
