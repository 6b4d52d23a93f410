"""bench/run_all.py without running a benchmark: it finds every script, each script takes the
quick protocol, and the old-prose reader names figures exactly as the `--json` line does.

Timing is never asserted here: figures on a shared machine are for a person to read.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run_all
from bench.legacy import legacy_figures
from bench.report import Figure, Report, read_figures

ROOT = run_all.ROOT
SAMPLES = Path(__file__).parent / "samples"


def test_finds_every_bench_script_and_each_has_quick_sizes() -> None:
    scripts = sorted(p.stem.removeprefix("bench_") for p in (ROOT / "bench").glob("bench_*.py"))
    assert len(scripts) >= 8
    assert run_all.discover() == scripts
    for name in scripts:
        assert run_all.quick_sizes(ROOT / "bench" / f"bench_{name}.py"), name


HELP_ALL = """
import contextlib, io, json, runpy, sys
out = {}
for path in sys.argv[1:]:
    sys.argv, text = [path, "--quick", "--help"], io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        runpy.run_path(path, run_name="__main__")
    out[path] = text.getvalue()
print(json.dumps(out))
"""


def test_every_script_accepts_quick_json_help_and_its_quick_sizes_as_options() -> None:
    """--help exits before any work; one interpreter for all, so the imports are paid once."""
    scripts = [ROOT / "bench" / f"bench_{name}.py" for name in run_all.discover()]
    done = subprocess.run(
        [sys.executable, "-c", HELP_ALL, *map(str, scripts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    helps = json.loads(done.stdout)
    for script in scripts:
        out = helps[str(script)]
        assert "--quick" in out and "--json" in out, script.name
        # An older checkout's script gets these sizes as ordinary options: it must take them.
        for key in run_all.quick_sizes(script) or {}:
            assert f"--{key.replace('_', '-')}" in out, (script.name, key)


# The benchmarks that existed before `--json` (an older checkout prints only prose); newer ones,
# such as bench_hsm.py, have no prose-only version to read.
LEGACY = sorted(p.stem for p in SAMPLES.glob("*.txt"))


def test_every_legacy_sample_is_a_current_benchmark() -> None:
    assert len(LEGACY) >= 8
    assert set(LEGACY) <= set(run_all.discover())


@pytest.mark.parametrize("bench", LEGACY)
def test_old_prose_reads_as_the_json_line_names_it(bench: str) -> None:
    """A sample run's prose (what a pre---json script prints) gives the --json line's figures."""
    sample = (SAMPLES / f"{bench}.txt").read_text(encoding="utf-8")
    from_json = {f.name: f for f in read_figures(sample)}
    from_prose = {f.name: f for f in legacy_figures(bench, sample)}
    assert sorted(from_prose) == sorted(from_json)
    for name, data in from_json.items():
        prose = from_prose[name]
        assert (prose.unit, prose.better) == (data.unit, data.better), data.name
        assert math.isclose(prose.value, data.value, rel_tol=0.01, abs_tol=0.5), data.name
        assert (prose.baseline is None) == (data.baseline is None), data.name


def test_an_old_script_gets_this_trees_quick_sizes_as_options(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bench_hooks.py").write_text("print('old')\n")
    argv, speaks_json = run_all.command(run_all.Tree("before", tmp_path), "hooks")
    assert not speaks_json
    assert argv[2:] == ["--events", "10000", "--tools", "300", "--procs", "2", "--per-proc", "2000"]
    argv, speaks_json = run_all.command(run_all.Tree("after", ROOT), "hooks")
    assert speaks_json and argv[2:] == ["--quick", "--json"]


def _outcome(*runs: list[Figure]) -> run_all.Outcome:
    return run_all.Outcome(runs=list(runs))


def test_compare_keeps_each_sides_best_and_flags_changes_past_the_noise() -> None:
    def figs(ms: float, rate: float, fails: int) -> list[Figure]:
        report = Report("x")
        report.add("plan", ms, "ms", "lower", baseline=10.0)
        report.add("rate", rate, "events/s")
        report.add("fails", fails, "verdicts", "equal")
        return report.figures

    before = _outcome(figs(100, 1000, 3), figs(120, 900, 3))
    after = _outcome(figs(200, 1050, 4), figs(210, 1000, 4))
    assert before.best()["plan"].value == 100 and before.best()["rate"].value == 1000
    assert before.spread("plan") == pytest.approx(0.2)
    text = run_all.compare_table({("before", "x"): before, ("after", "x"): after}, ["x"], 0.1)
    rows = {line.split()[1]: line for line in text.splitlines()[1:]}
    assert "2.00" in rows["plan"] and rows["plan"].endswith("worse")
    assert rows["rate"].endswith("11%")  # 1,050 vs 1,000: within the noise (900..1,000)
    assert rows["fails"].endswith("CHANGED")  # a count that must not move


def test_report_round_trips_through_the_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report("x")
    report.add("plan", 2.5, "ms", "lower", baseline=1.25)
    report.emit(type("Args", (), {"json": True})())
    (figure,) = read_figures("prose first\n" + capsys.readouterr().out)
    assert figure == Figure("plan", 2.5, "ms", "lower", 1.25) and figure.ratio == 2.0


def test_a_failures_reason_is_its_exception_line_not_the_warnings_after_it() -> None:
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/x/ledger/proofs.py", line 21\n'
        "    <<<<<<< HEAD\n"
        "SyntaxError: invalid syntax\n"
        "/usr/lib/python3.11/multiprocessing/resource_tracker.py:254: UserWarning: leaked\n"
        "  warnings.warn('resource_tracker: There appear to be %d '\n"
    )
    assert run_all.reason(stderr) == "SyntaxError: invalid syntax"
    assert run_all.reason("verify child died (exit code 1)\n") == "verify child died (exit code 1)"
    assert run_all.reason("") == "(no stderr)"
