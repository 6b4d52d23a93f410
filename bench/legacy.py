"""Figures from the prose of benchmark scripts that predate `--json` (an older checkout).

`run_all --against DIR` measures an older tree with that tree's own scripts; when they lack the
`QUICK`/`--json` protocol this table reads the same figures, under the same names, from the
sentences they print. It is the only place that knows that prose: once every compared tree
speaks `--json`, this module can go.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bench.report import MARKER, Better, Figure, Report

NUM = r"([\d,]+(?:\.\d+)?)"


@dataclass(frozen=True)
class Spec:
    """One figure in one sentence: `name` may use the sentence's named groups ({w}, {attempt})."""

    name: str
    group: int
    unit: str
    better: Better = "higher"
    baseline: str | None = None


PATTERNS: dict[str, list[tuple[str, list[Spec]]]] = {
    "append": [
        (rf"baseline raw COPY of the same rows: {NUM} rows/s", [Spec("raw_copy", 1, "rows/s")]),
        (
            rf"append, (?P<w>\d+) writer\(s\) submitting (?P<b>\d+) .*?: {NUM} events/s",
            [Spec("append_{w}w_batch{b}", 3, "events/s", baseline="raw_copy")],
        ),
        (
            rf"p50 {NUM} ms, p99 {NUM} ms",
            [Spec("latency_p50", 1, "ms", "lower"), Spec("latency_p99", 2, "ms", "lower")],
        ),
    ],
    "verify": [
        (
            rf"baseline in-memory leaf recompute: {NUM} events/s",
            [Spec("leaf_recompute", 1, "events/s")],
        ),
        (
            rf"\((?P<attempt>\w+) run\): {NUM} events/s wall, {NUM} events/s per core"
            rf"[^\n]*\n.*CPU meanwhile: {NUM} s; .*plus server CPU: {NUM}",
            [
                Spec("verify_{attempt}_wall", 2, "events/s"),
                Spec("verify_{attempt}_per_core", 3, "events/s/core", baseline="leaf_recompute"),
                Spec("verify_{attempt}_server_cpu", 4, "s", "lower"),
                Spec("verify_{attempt}_per_core_with_server", 5, "events/s/core"),
            ],
        ),
    ],
    "hooks": [
        (
            rf"agent thread: {NUM} us per recorded event vs {NUM} us",
            [
                Spec("noop_call", 2, "us", "lower"),
                Spec("recorded_event", 1, "us", "lower", "noop_call"),
            ],
        ),
        (rf"drained {NUM}s after", [Spec("backlog_drained_after_loop", 1, "s", "lower")]),
        (
            rf"undecorated {NUM} us, decorated {NUM} us.*fail-open {NUM} us",
            [
                Spec("tool_undecorated", 1, "us", "lower"),
                Spec("tool_decorated", 2, "us", "lower", "tool_undecorated"),
                Spec("tool_fail_open", 3, "us", "lower", "tool_undecorated"),
            ],
        ),
        (
            rf"events: {NUM} events/s durable in intake, {NUM} events/s including",
            [Spec("agents_intake", 1, "events/s"), Spec("agents_sequenced", 2, "events/s")],
        ),
    ],
    "integrity": [
        (rf"built in {NUM}s", [Spec("proofs_tiles_build", 1, "s", "lower")]),
        (
            rf"generation from tiles: {NUM} us/proof \(baseline from all leaves: {NUM} us/proof",
            [
                Spec("proof_from_all_leaves", 2, "us/proof", "lower"),
                Spec("proof_from_tiles", 1, "us/proof", "lower", "proof_from_all_leaves"),
            ],
        ),
        (
            rf"tiles already in memory: {NUM} us/proof",
            [Spec("proof_from_tiles_in_memory", 1, "us/proof", "lower")],
        ),
        (rf"proof verification: {NUM} us/proof", [Spec("proof_verify", 1, "us/proof", "lower")]),
        (
            rf"\[verify\] .*plain {NUM} ev/s; with pin \+ witness {NUM} ev/s",
            [
                Spec("verify_plain", 1, "events/s"),
                Spec("verify_pin_witness", 2, "events/s", baseline="verify_plain"),
            ],
        ),
        (
            rf"\[append\] plain {NUM} ev/s; with commitments {NUM} ev/s",
            [
                Spec("append_plain", 1, "events/s"),
                Spec("append_with_commitments", 2, "events/s", baseline="append_plain"),
            ],
        ),
    ],
    "replay": [
        (rf"stored {NUM} events in {NUM}s", [Spec("fill", 2, "s", "lower")]),
        (
            rf"baseline COPY of all stored rows: {NUM} events/s",
            [Spec("copy_all_rows", 1, "events/s")],
        ),
        (
            rf"policy check from PostgreSQL: .* = {NUM} events/s.*, {NUM} failing verdicts",
            [
                Spec("check", 1, "events/s", baseline="copy_all_rows"),
                Spec("failing_verdicts", 2, "verdicts", "equal"),
            ],
        ),
        (rf"= {NUM} events per CPU-second", [Spec("check_per_cpu_s", 1, "events/cpu-s")]),
        (rf"-event run from PostgreSQL: {NUM} ms", [Spec("one_1000_event_run", 1, "ms", "lower")]),
    ],
    "undo": [
        (
            rf"plan in {NUM} ms .*canonical encoding of the same events \({NUM} ms\)",
            [
                Spec("encode_1000_call_run", 2, "ms", "lower"),
                Spec("plan_1000_call_run", 1, "ms", "lower", "encode_1000_call_run"),
            ],
        ),
        (
            rf"built in {NUM}s\): plan in {NUM}s \({NUM} steps.*canonical encoding \({NUM}s\)",
            [
                Spec("build_window", 1, "s", "lower"),
                Spec("encode_window", 4, "s", "lower"),
                Spec("plan_window", 2, "s", "lower", "encode_window"),
                Spec("window_steps", 3, "steps", "equal"),
            ],
        ),
    ],
}


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _from_patterns(bench: str, stdout: str) -> list[Figure]:
    found: list[tuple[Spec, str, float]] = []
    for regex, specs in PATTERNS[bench]:
        for match in re.finditer(regex, stdout):
            for spec in specs:
                name = spec.name.format(**match.groupdict())
                found.append((spec, name, _number(match.group(spec.group))))
    values = {name: value for _, name, value in found}
    report = Report(bench)
    for spec, name, value in found:
        base = values.get(spec.baseline) if spec.baseline else None
        report.add(name, value, spec.unit, spec.better, base)
    return report.figures


def _export(stdout: str) -> list[Figure]:
    summary = json.loads(stdout[stdout.index("{") : stdout.rindex("}") + 1])
    report = Report("export")
    report.add_mapping(summary)
    return report.figures


def _tui(stdout: str) -> list[Figure]:
    pairs = dict(re.findall(rf"^(\w+) +{NUM}$", stdout, re.MULTILINE))
    report = Report("tui")
    fills = re.findall(rf"\({NUM} ev/s through the sequencer\)", stdout)
    if fills:
        report.add("fill", _number(fills[-1]), "events/s")
    report.add_mapping({k: _number(v) for k, v in pairs.items()})
    return report.figures


def legacy_figures(bench: str, stdout: str) -> list[Figure]:
    """The figures an old script's prose states, named as its `--json` successor names them."""
    stdout = "\n".join(line for line in stdout.splitlines() if not line.startswith(MARKER))
    if bench == "export":
        return _export(stdout)
    if bench == "tui":
        return _tui(stdout)
    figures = _from_patterns(bench, stdout)
    if not figures:
        raise ValueError(f"no figures found in the output of the old bench_{bench}.py")
    return figures
