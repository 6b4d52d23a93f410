"""The SLIs as gauges for `/metrics` (contract 7): what the metrics slice refreshes in the
background (never per scrape: one `compute_slis` aggregate per refresh).

Window: the last hour of runs (GAUGE_WINDOW), so Prometheus can derive longer views with
`avg_over_time` and burn-rate rules compare like with like. Labels are bounded: the agent and a
short version label (replay.slo.model.version_label), never a run or a user. Unknown SLIs
(no data) are left out rather than exported as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ledger.config import Settings
from replay.slo.model import version_label
from replay.slo.slis import compute_slis

__all__ = ["GAUGE_WINDOW", "Gauge", "sli_gauges"]

GAUGE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Gauge:
    """One SLI value: `name` is the SLI (contract 7's names), labels {agent, version}."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    value: float = 0.0


def sli_gauges(conn: psycopg.Connection[Any], settings: Settings) -> list[Gauge]:
    """Every known SLI of every agent/version with runs in the last GAUGE_WINDOW."""
    now = datetime.now(UTC)
    report = compute_slis(conn, settings, since=now - GAUGE_WINDOW, until=now)
    return [
        Gauge(s.name, {"agent": row.agent, "version": version_label(row.versions)}, s.value)
        for row in report.rows
        for s in row.slis
        if s.value is not None
    ]
