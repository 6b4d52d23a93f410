"""CLI start-up and read commands as ratios to `python -c pass`, for this tree and another.

Issue 18: `ledger --help` within 25x a bare Python start, and every read command on the demo
ledger within 0.5 s wall with the embedded server already running. Run from a tree:

    .venv/bin/python bench/bench_cli.py --vs /work/base18     # "after" vs "before"

Each tree gets its own demo ledger (`ledger demo --no-tui` in a temporary LEDGER_HOME, its
embedded server left running: the figures are for a warm server) and runs its own venv's
`ledger`. Bytecode is cached outside the trees (PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE
dropped), as an installed package has it, and a warm-up round fills that cache. Then every
round times each command once per tree, in turn (A B A B ...: the machine's drift hits both),
and the figures are medians over the rounds. The baseline, `python -c pass` with the tree's own
interpreter, is timed in the same rounds; the ratio is the figure to compare across runs.

Two clocks: wall (what the issue's budgets are about) and CPU (user + system of the command's
own process, from wait4): on a shared machine whose load makes `python -c pass` itself ten
times slower, wall is mostly waiting for a core, and the CPU ratio is the steadier figure.
The server's own work for a command is in neither CPU figure (it is another process).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import Report

HERE = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 0.5  # a read command, warm server (issue 18)
HELP_RATIO = 25.0  # `ledger --help` / `python -c pass`


@dataclass
class Tree:
    """One source tree with its venv, its demo home and the commands to time there."""

    root: Path
    home: Path
    commands: dict[str, list[str]] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    @property
    def python(self) -> str:
        return str(self.root / ".venv" / "bin" / "python")

    @property
    def ledger(self) -> str:
        return str(self.root / ".venv" / "bin" / "ledger")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("LEDGER_") and k != "PYTHONDONTWRITEBYTECODE"}
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / f"bench-cli-pyc-{digest}")
        env["LEDGER_HOME"] = str(self.home)
        env["COLUMNS"] = "100"
        return env

    def run(self, argv: list[str], *, check: bool = False) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, env=self.env(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=900, check=False)
        if check and done.returncode != 0:
            raise SystemExit(f"{self.root}: {' '.join(argv[1:])} exited {done.returncode}: "
                             f"{done.stderr.strip()[-500:]}")
        return done


def prepare(tree: Tree) -> None:
    """The demo ledger, the ids the read commands take, and which commands work in this tree."""
    tree.run([tree.ledger, "demo", "--no-tui"], check=True)
    listed = json.loads(tree.run([tree.ledger, "runs", "--json"], check=True).stdout)
    runs = listed["runs"] if isinstance(listed, dict) else listed  # a page (issue 18) or a list
    run_id = str(runs[0]["run_id"])
    shown = json.loads(tree.run([tree.ledger, "replay", run_id, "--json"]).stdout or "{}")
    event_id = _first_event_id(shown)
    state = tree.home / "witness"
    tree.run([tree.ledger, "witness", "init", "--state", str(state)])
    candidates = {
        "python -c pass": [tree.python, "-c", "pass"],
        "ledger --help": [tree.ledger, "--help"],
        "runs": [tree.ledger, "runs"],
        "show <run>": [tree.ledger, "show", run_id],
        "check": [tree.ledger, "check"],
        "verify": [tree.ledger, "verify"],
        "replay <run>": [tree.ledger, "replay", run_id],
        "prove <event>": [tree.ledger, "prove", event_id] if event_id else [],
        "prove --run <run>": [tree.ledger, "prove", "--run", run_id],
        "witness show": [tree.ledger, "witness", "show", "--state", str(state)],
        "stops": [tree.ledger, "stops"],
        "db status": [tree.ledger, "db", "status"],
        "export --help": [tree.ledger, "export", "--help"],
    }
    for name, argv in candidates.items():
        if argv and tree.run(argv).returncode in (0, 1):  # check exits 1 on a failing rule
            tree.commands[name] = argv
            tree.times[name], tree.cpu[name] = [], []
        elif argv:
            print(f"# {tree.root}: {name} does not work here, not timed", file=sys.stderr)


def _first_event_id(state: object) -> str | None:
    """An event id from `ledger replay --json` (its timeline), found without knowing its shape."""
    stack = [state]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("event_id"), str):
                return str(item["event_id"])
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return None


def timed(tree: Tree, argv: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of `argv`, its output discarded."""
    env = tree.env()
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = 0  # reaped above; keeps Popen from waiting again
    return wall, usage.ru_utime + usage.ru_stime


def measure(trees: list[Tree], rounds: int) -> None:
    for tree in trees:  # warm-up: bytecode cache, OS cache, the server's buffers
        for argv in tree.commands.values():
            timed(tree, argv)
    for _ in range(rounds):
        for name in trees[0].commands:
            for tree in trees:
                if name in tree.commands:
                    wall, cpu = timed(tree, tree.commands[name])
                    tree.times[name].append(wall)
                    tree.cpu[name].append(cpu)


def report(trees: list[Tree]) -> None:
    labels = ["after (this tree)", "before (--vs)"][: len(trees)]
    print(f"# bench_cli: medians of {len(trees[0].times['python -c pass'])} rounds, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; ratio = command / "
          "`python -c pass` of the same tree, wall and CPU")
    print(f"{'command':<18}" + "".join(f"  {label:>40}" for label in labels))
    base = [(statistics.median(t.times["python -c pass"]),
             statistics.median(t.cpu["python -c pass"])) for t in trees]
    for name in trees[0].commands:
        cells = []
        for tree, (wall_0, cpu_0) in zip(trees, base, strict=True):
            if not tree.times.get(name):
                cells.append(f"  {'-':>40}")
                continue
            wall, cpu = statistics.median(tree.times[name]), statistics.median(tree.cpu[name])
            cells.append(f"  {wall * 1000:6.0f} ms {wall / wall_0:5.1f}x  cpu {cpu * 1000:5.0f} ms "
                         f"{cpu / cpu_0:5.1f}x{_verdict(name, wall, wall / wall_0):>4}")
        print(f"{name:<18}" + "".join(cells))
    print("# budgets (issue 18): --help <= 25x python -c pass, each read <= 0.5 s wall (warm)")


def _verdict(name: str, wall: float, ratio: float) -> str:
    if name == "python -c pass":
        return ""
    if name == "ledger --help":
        return "ok" if ratio <= HELP_RATIO else "!"
    return "ok" if wall <= BUDGET_SECONDS else "!"


QUICK = {"rounds": 1}  # bench/run_all.py --quick: one timed round after the warm-up


def figures(tree: Tree) -> Report:
    """This tree's medians as figures against its own `python -c pass` (the run_all JSON line)."""
    out = Report("cli")
    base = statistics.median(tree.times["python -c pass"])
    for name, walls in tree.times.items():
        if name != "python -c pass" and walls:
            out.add(f"{name} wall", statistics.median(walls), "s", "lower", baseline=base)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vs", type=Path, help="another tree (its .venv) to time alongside")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the demo homes running")
    parser.add_argument("--quick", action="store_true", help=f"small sizes: {QUICK}")
    parser.add_argument("--json", action="store_true", help="also print one BENCH-JSON line")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    work.chmod(0o755)  # as root the embedded server runs as another user
    roots = [HERE] + ([args.vs.resolve()] if args.vs else [])
    trees = [Tree(root=root, home=work / f"home{i}") for i, root in enumerate(roots)]
    try:
        for tree in trees:
            prepare(tree)
        measure(trees, args.rounds)
        report(trees)
        figures(trees[0]).emit(args)
    finally:
        if not args.keep:
            for tree in trees:
                tree.run([tree.ledger, "db", "stop"])
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
