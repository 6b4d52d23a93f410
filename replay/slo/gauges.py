"""SLI gauges for the live metrics (contract 7). Placeholder until the slo slice's module is
merged: same signature, no gauges yet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg

from ledger.config import Settings

__all__ = ["Gauge", "sli_gauges"]


@dataclass(frozen=True)
class Gauge:
    """One SLI value: name (task_completion, ...), labels {agent, version}, value."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    value: float = 0.0


def sli_gauges(conn: psycopg.Connection, settings: Settings) -> list[Gauge]:
    """The current SLI values per agent and version (none until replay/slo lands)."""
    del conn, settings
    return []
