"""Objectives judged against the ledger: met or not, error budget left, burn rates.

One service for `ledger slo --objectives`, `ledger versions` (contract 7: `objectives_met`) and
the gauges: each objective window and each burn window is one `compute_slis` call (one SQL
aggregate), whatever the number of objectives. The objectives `ledger versions` reads are the
file named by $LEDGER_SLO_FILE, else `<home>/slo.yaml` (none: no objectives, None).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.event_gate import GateVersions
from replay.slo.model import SliReport, SliRow, version_label
from replay.slo.objectives import (
    BURN_WINDOWS,
    PAGE_BURN,
    Objective,
    SloFile,
    budget,
    burn_rate,
    load_objectives,
    met,
)
from replay.slo.slis import compute_slis

__all__ = ["SLO_FILE_ENV", "ObjectiveResult", "evaluate", "objectives_met", "slo_file"]

SLO_FILE_ENV = "LEDGER_SLO_FILE"


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    """One objective for one agent at one set of versions."""

    objective: Objective
    versions: GateVersions
    value: float | None
    numerator: float | None
    denominator: int
    met: bool | None
    budget_remaining: float | None
    burn: dict[str, float | None] = field(default_factory=dict)

    @property
    def page(self) -> bool:
        """The fast-burn alert: every short window burning faster than PAGE_BURN."""
        rates = [self.burn.get(w) for w, _ in BURN_WINDOWS]
        return all(r is not None and r > PAGE_BURN for r in rates)

    def to_json(self) -> dict[str, Any]:
        o = self.objective
        return {"sli": o.sli, "agent": self.versions.agent, "version": version_label(
            self.versions), "versions": self.versions.model_dump(mode="json"),
            "target": o.target, "op": o.op, "window": o.window_text, "value": self.value,
            "numerator": self.numerator, "denominator": self.denominator, "met": self.met,
            "budget_remaining": self.budget_remaining, "burn_rate": self.burn,
            "page": self.page}  # fmt: skip


def slo_file(settings: Settings) -> Path | None:
    """The objectives file in use: $LEDGER_SLO_FILE, else <home>/slo.yaml if it exists."""
    named = os.environ.get(SLO_FILE_ENV, "").strip()
    if named:
        return Path(named)
    default = settings.home / "slo.yaml"
    return default if default.is_file() else None


def evaluate(
    conn: psycopg.Connection[Any], settings: Settings, slo: SloFile, *,
    agent: str | None = None, version: Any = None, include_gate: bool = False,
    now: datetime | None = None,
) -> list[ObjectiveResult]:
    """Every objective against every matching agent/version row of its window."""
    now = now or datetime.now(UTC)
    reports: dict[timedelta, SliReport] = {}

    def over(span: timedelta) -> SliReport:
        if span not in reports:
            reports[span] = compute_slis(
                conn, settings, agent=agent, version=version, since=now - span, until=now,
                include_gate=include_gate, review_usd_per_hour=slo.review_usd_per_hour)
        return reports[span]

    out: list[ObjectiveResult] = []
    for objective in slo.objectives:
        if agent is not None and objective.agent not in (None, agent):
            continue
        short = {name: _by_versions(over(span).rows) for name, span in BURN_WINDOWS}
        for row in over(objective.window).rows:
            if objective.agent is not None and row.agent != objective.agent:
                continue
            sli = row.sli(objective.sli)
            burn = {name: _burn(objective, rows.get(_key(row.versions)))
                    for name, rows in short.items()}  # fmt: skip
            burn["window"] = burn_rate(objective, sli)
            out.append(ObjectiveResult(objective, row.versions, sli.value, sli.numerator,
                                       sli.denominator, met(objective, sli),
                                       budget(objective, sli), burn))
    return out


def _key(v: GateVersions) -> tuple[str | None, ...]:
    return (v.agent, v.agent_version, v.prompt_version, v.model, v.policy_hash,
            v.tool_contract_digest)


def _by_versions(rows: Sequence[SliRow]) -> dict[tuple[str | None, ...], SliRow]:
    return {_key(r.versions): r for r in rows}


def _burn(objective: Objective, row: SliRow | None) -> float | None:
    return None if row is None else burn_rate(objective, row.sli(objective.sli))


def objectives_met(
    conn: psycopg.Connection[Any], settings: Settings, *, agent: str, versions: GateVersions
) -> bool | None:
    """True when every objective for `agent` is met by the runs of exactly `versions`; False
    when one is not; None with no objectives file, no objective for the agent, or no data."""
    path = slo_file(settings)
    if path is None:
        return None
    slo = load_objectives(path)
    results = [r for r in evaluate(conn, settings, slo, agent=agent)
               if _key(r.versions) == _key(versions)]
    verdicts = [r.met for r in results]
    if not verdicts or any(v is None for v in verdicts):
        return None if not any(v is False for v in verdicts) else False
    return all(verdicts)
