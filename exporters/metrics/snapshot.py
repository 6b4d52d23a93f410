"""The typed metrics snapshot (issue 19, contract 9): what every metrics exporter reads.

Why one shape: the Prometheus collector (`ledger serve --metrics-addr`) and the OTLP push
(`--otlp-endpoint`) must publish the same names, labels and values, so both read a sequence of
`Sample`s from one source instead of each aggregating the ledger its own way. Names carry the
`agent_ledger_` prefix and their unit, Prometheus style (counters end `_total`, seconds
`_seconds`); label values are bounded (agent, tool, status, rule; never a run or a user).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["MetricsSnapshot", "Sample", "SampleKind"]

SampleKind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class Sample:
    """One series: a counter or gauge `value`, or a histogram's cumulative `buckets`.

    A histogram's `buckets` are (upper bound, cumulative count) pairs ending with
    (inf, count), and its `value` is the sum of the observations (Prometheus `_sum`)."""

    name: str
    kind: SampleKind
    help: str
    labels: Mapping[str, str] = field(default_factory=dict)
    value: float | None = None
    buckets: tuple[tuple[float, int], ...] = ()


@dataclass(frozen=True)
class MetricsSnapshot:
    """Every sample at one moment (`taken_at`: nanoseconds since the epoch)."""

    samples: tuple[Sample, ...]
    taken_at: int
