"""The typed metric samples both exporters read (contract 9): the Prometheus collector
(exporters/metrics/collector.py) and the OTLP push turn the same `MetricsSnapshot` into their
wire forms, so the two never disagree on a name, a label or a value.

Names follow Prometheus practice (docs/metrics.md): prefix `agent_ledger_`, base units in the
name (`_seconds`, `_usd`), counters end `_total`; labels are bounded (capped, state.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["PREFIX", "Kind", "MetricsSnapshot", "Sample"]

PREFIX = "agent_ledger_"
Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class Sample:
    """One labelled series. A counter's `name` has no `_total` (exposition adds it); a
    histogram has `buckets` ((upper bound, cumulative count), +Inf last), `count` and `sum`."""

    name: str
    kind: Kind
    help: str
    labels: Mapping[str, str] = field(default_factory=dict)
    value: float = 0.0
    buckets: tuple[tuple[float, int], ...] = ()
    count: int = 0
    sum: float = 0.0

    @property
    def exposed(self) -> str:
        """The name users see, in Prometheus and over OTLP alike: a counter's ends `_total`."""
        return self.name + "_total" if self.kind == "counter" else self.name


@dataclass(frozen=True)
class MetricsSnapshot:
    """Every sample at one moment (`taken_at`, Unix seconds), grouped by name in order."""

    samples: tuple[Sample, ...]
    taken_at: float

    def names(self) -> list[str]:
        """The metric names, in order of first appearance."""
        return list(dict.fromkeys(s.name for s in self.samples))

    def of(self, name: str) -> list[Sample]:
        """The samples of one metric."""
        return [s for s in self.samples if s.name == name]
