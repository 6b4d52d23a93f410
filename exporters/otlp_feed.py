"""The samples the OTLP push sends, from exporters/otel_metrics.py's aggregation of the log.

Why incremental: `ledger serve` pushes every few seconds for as long as it runs, so each push
reads only the events sequenced (checkpointed) since the previous one, per origin, and adds
them to running sums: counters are cumulative over the whole log, never reset by a restart of
serve (a restart re-reads the log once). The aggregation itself is otel_metrics.aggregate, the
same one `ledger export --format otel-metrics` uses, so the file and the push agree.

Until the metrics slice's incremental state lands (exporters/metrics), this is the source the
push reads; at merge the push is pointed at `MetricsSnapshot` instead (the push only needs a
`Callable[[], Sequence[Sample]]`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg

from exporters import otel_metrics
from exporters.bundle import BATCH
from exporters.bundle_scan import scope_batches
from exporters.metrics.snapshot import Sample
from ledger.backlog import Backlog, read_backlog
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.read import latest_checkpoint, origins

__all__ = ["NAMES", "LedgerSamples", "samples_of"]

#: otel_metrics' dotted OTLP-file names -> the Prometheus-style names pushed (contract 9)
NAMES: dict[str, str] = {
    "agent_ledger.runs": "agent_ledger_runs_total",
    "agent_ledger.tool_calls": "agent_ledger_tool_calls_total",
    "agent_ledger.policy_failures": "agent_ledger_policy_failures_total",
    "agent_ledger.spend": "agent_ledger_spend_usd_total",
}
_BACKLOG: tuple[tuple[str, str], ...] = (
    ("agent_ledger_intake_pending_events", "Acknowledged events waiting in intake"),
    ("agent_ledger_intake_oldest_age_seconds", "Age of the oldest event waiting in intake"),
    ("agent_ledger_sequencer_running", "1 when a sequencer is running, else 0"),
)
# every event, whatever its time: the push counts by position in the log, not by period
_ALL_TIME = ("0001-01-01T00:00:00.000000000Z", "9999-12-31T23:59:59.999999999Z")

Sums = dict[str, dict[otel_metrics.Key, Decimal]]


def samples_of(sums: Sums, backlog: Backlog | None) -> list[Sample]:
    """The running sums as counter samples (sorted: stable output), then the backlog gauges."""
    out: list[Sample] = []
    for dotted, (description, _unit) in otel_metrics.METRICS.items():
        for key, value in sorted(sums.get(dotted, {}).items()):
            out.append(Sample(NAMES[dotted], "counter", description, dict(key), float(value)))
    if backlog is not None:
        values = (float(backlog.count), backlog.oldest_age_seconds or 0.0,
                  float(backlog.sequencer_running))
        out += [Sample(name, "gauge", text, {}, value)
                for (name, text), value in zip(_BACKLOG, values, strict=True)]
    return out


class LedgerSamples:
    """A `Callable[[], Sequence[Sample]]` over one ledger: each call reads what is new.

    It owns one connection (opened on first use, reopened after an error) and is called from
    one thread at a time (the push thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: psycopg.Connection | None = None
        self._done: dict[str, int] = {}
        self._sums: Sums = {name: defaultdict(Decimal) for name in otel_metrics.METRICS}

    def __call__(self) -> list[Sample]:
        conn = self._connection()
        try:
            for origin in self._origins(conn):
                self._read(conn, origin)
            backlog = read_backlog(conn)
        except psycopg.Error:
            self.close()  # reconnect next time; what was read stays counted
            raise
        return samples_of(self._sums, backlog)

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings)
        return self._conn

    def _origins(self, conn: psycopg.Connection) -> list[str]:
        prefix = self.settings.origin_prefix + "/"
        return [o for o in origins(conn) if o.startswith(prefix)]

    def _read(self, conn: psycopg.Connection, origin: str) -> None:
        """Add the events checkpointed since the last read of `origin` to the sums."""
        latest = latest_checkpoint(conn, origin)
        end, start = (latest.tree_size if latest else 0), self._done.get(origin, 0)
        if end <= start:
            return
        for name, sums in otel_metrics.aggregate(self._rows(conn, origin, start, end)).items():
            for key, value in sums.items():
                self._sums[name][key] += value
        self._done[origin] = end

    @staticmethod
    def _rows(conn: psycopg.Connection, origin: str, start: int, end: int
              ) -> Iterator[dict[str, Any]]:
        for batch in scope_batches(conn, origin, span=(start, end), index_bounds=_ALL_TIME,
                                   period=_ALL_TIME, step=BATCH):
            for i in range(len(batch)):
                yield batch.row(i)
