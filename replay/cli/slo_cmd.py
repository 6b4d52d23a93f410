"""`ledger slo`: behaviour SLIs per agent and versions, and SLO objectives with burn rates.

Why this shape: the operator asks "can this agent be trusted to act?" per version, so a table
per agent/version with every SLI, its numerator/denominator (2 runs is not 2,000) and `unknown`
where the ledger has no data (never a pass). Gate-tagged runs are left out and counted.
With `--objectives FILE` each objective gets met/not met, the error budget left over its window
and the 1 h / 5 min burn rates; exit 1 when an objective with data is not met.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    RunsSince,
    RunsUntil,
    connection,
    emit_json,
    input_option,
    say,
    settings_from,
    table,
    when,
)
from ledger.terminal import printable

if TYPE_CHECKING:
    from replay.slo.model import Sli, SliReport
    from replay.slo.status import ObjectiveResult

__all__ = ["app", "fmt_value"]

app = typer.Typer(add_completion=False)

VersionOption = Annotated[
    str | None,
    typer.Option("--version", metavar="SELECTOR",
                 help="Only these versions: prompt=NAME/V, model=M, agent=NAME@V, policy=HEX, "
                 "tenant=T, since=TIME, until=TIME, comma-separated (the gate's selector "
                 "syntax; label/suite select gate runs: refused)."),
]  # fmt: skip


@app.command("slo")
def slo(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    version: VersionOption = None,
    since: RunsSince = None,
    until: RunsUntil = None,
    objectives: Annotated[
        str | None,
        input_option("--objectives",
                     help="SLO objectives (YAML; - reads stdin): met, error budget, burn."),
    ] = None,
    include_gate: Annotated[
        bool, typer.Option("--include-gate", help="Count gate-tagged runs too.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Behaviour SLIs per agent and version (task completion, correct escalation, tool-call
    validity, policy compliance, spend within budget, cost per resolved outcome, human review
    time, p50/p95 latency, time to stop), from the runs started in the window; with
    --objectives, each objective's error budget and burn rate (exit 1 if one is not met)."""
    from replay.gate.selector import parse_selector
    from replay.slo.objectives import load_objectives
    from replay.slo.slis import compute_slis
    from replay.slo.status import evaluate

    selector = parse_selector(version).live("`ledger slo`") if version else None
    slo_file = load_objectives(Path(objectives)) if objectives else None
    settings = settings_from(ctx)
    conn = connection(ctx, migrate=False)
    report = compute_slis(
        conn, settings, agent=agent, version=selector, since=when(since, "--since"),
        until=when(until, "--until"), include_gate=include_gate,
        review_usd_per_hour=slo_file.review_usd_per_hour if slo_file else None)
    results = (evaluate(conn, settings, slo_file, agent=agent, version=selector,
                        include_gate=include_gate) if slo_file else [])  # fmt: skip
    if json_out:
        emit_json({**report.to_json(), "objectives": [r.to_json() for r in results]})
    else:
        _print(report, filtered=agent is not None or selector is not None)
        if slo_file:
            _print_objectives(results)
    if any(r.met is False for r in results) or (not report.rows and (agent or selector)):
        raise typer.Exit(1)  # a filter that matched nothing is no data: never a pass


def fmt_value(s: Sli) -> str:
    """A value as shown: `unknown` when there is no data, ratios as %, USD, seconds."""
    if s.value is None:
        return "unknown"
    if s.unit == "ratio":
        return f"{s.value * 100:.1f}%"
    if s.unit == "usd":
        return f"{s.value:.4f} USD"
    return f"{s.value:.3f} s"


def _fraction(s: Sli) -> str:
    if s.numerator is None:
        return f"n={s.denominator}"
    num = f"{s.numerator:g}" if s.unit == "ratio" else f"{s.numerator:.4f}"
    return f"{num}/{s.denominator}"


def _print(report: SliReport, *, filtered: bool) -> None:
    """One table per agent/version; writer-recorded text (agent, versions, notes) escaped."""
    from replay.slo.model import version_label

    if not report.rows:
        say("nothing matched: no runs of that agent/version in the window" if filtered
            else "no runs in the window")
    for row in report.rows:
        head = f"{printable(row.agent or '-')}  {printable(version_label(row.versions))}"
        if not row.runs:  # only gate runs: a table of unknowns would say nothing
            say(f"{head}  (0 runs: only {row.gate_runs} gate runs, excluded; --include-gate "
                "to count them)")
            continue
        gate = f", {row.gate_runs} gate runs excluded" if row.gate_runs else ""
        say(f"{head}  ({row.runs} runs{gate})")
        if row.tagged_unjudged:
            say(f"  {row.tagged_unjudged} runs tagged as gate runs but judged by no gate "
                "result (counted)")
        contract, recorded = row.schema_calls
        if contract + recorded:
            say(f"  tool calls judged by a schema: {contract} by a contract-declared one, "
                f"{recorded} by a writer-recorded one (the agent's own claim)")
        say(table([[s.name, fmt_value(s), _fraction(s), printable(s.note)] for s in row.slis],
                  ["sli", "value", "of", "note"]))
        say("")
    if report.gate_runs and not report.include_gate:
        say(f"{report.gate_runs} gate runs excluded (listed in a recorded gate result; "
            "--include-gate to count them)")


def _print_objectives(results: list[ObjectiveResult]) -> None:
    from replay.slo.model import version_label

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x * 100:.0f}%"

    def rate(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    rows = [[r.objective.sli, printable(r.versions.agent or "-"),
             printable(version_label(r.versions)),
             f"{r.objective.op} {r.objective.target:g} / {r.objective.window_text}",
             "unknown" if r.value is None else f"{r.value:.4g}",
             {True: "met", False: "NOT MET", None: "unknown"}[r.met], pct(r.budget_remaining),
             rate(r.burn.get("1h")), rate(r.burn.get("5m")), "PAGE" if r.page else ""]
            for r in results]  # fmt: skip
    say(table(rows, ["objective", "agent", "version", "target", "value", "status",
                     "budget left", "burn 1h", "burn 5m", "alert"]))
    if not results:
        say("no objective matched a run in its window")
