"""Incremental metric state: counters that agree with the log without a scan per scrape.

Why incremental: a scrape every 15 s over a 1M-event log must cost microseconds, and numbers
must agree with the log after a restart (a process-local counter would restart at zero). So at
start one REPEATABLE READ snapshot reads every log's size and seeds the counters with grouped
aggregates of the events below it (ledger_metric_rows, migration 0024: the same projection the
follower folds); then a thread follows what is sequenced (LISTEN ledger_appended, a poll as
fallback, its position per log kept in memory, as replay/policy/breakers.py) and folds the new
rows in. A scrape reads memory under a lock.

Labels are bounded: each capped label (agent, version, tool, decision...) admits at most
`max_values` distinct values, the most frequent first at seed time, then first come; the rest
are counted under "other". Admission is sticky, so counters never go down.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from ledger.db.sqlfiles import query
from ledger.terminal import printable

__all__ = ["MAX_LABEL_LENGTH", "MAX_VALUES", "WAIT_BOUNDS", "MetricRow", "MetricsState"]

MAX_VALUES = 50  # distinct values per capped label; the rest are "other"
MAX_LABEL_LENGTH = 128
OTHER = "other"
WAIT_BOUNDS: tuple[float, ...] = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14400, 86400)
WINDOW = 5000  # log positions per follow query


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One projected event (ledger_metric_rows): kind and up to three label values, the LLM
    cost and tokens, the approval wait in seconds (None when its request is not found)."""

    kind: str
    a: str
    b: str
    c: str
    amount: Decimal = Decimal(0)
    tokens_in: int = 0
    tokens_out: int = 0
    wait: float | None = None


class _Cap:
    """Sticky admission of the values of one label (at most `limit`, then "other")."""

    def __init__(self, limit: int) -> None:
        self.limit, self.admitted = limit, set[str]()

    def __call__(self, value: str) -> str:
        value = printable(value)[:MAX_LABEL_LENGTH]
        if value in self.admitted:
            return value
        if len(self.admitted) < self.limit:
            self.admitted.add(value)
            return value
        return OTHER


@dataclass
class _Histogram:
    counts: list[int]  # per bucket (not cumulative), +Inf last
    total: float = 0.0


class MetricsState:
    """The counters of every log, seeded and then folded; thread-safe (one lock)."""

    def __init__(self, max_values: int = MAX_VALUES) -> None:
        self.lock = threading.Lock()
        self.caps: dict[str, _Cap] = defaultdict(lambda: _Cap(max_values))
        self.runs: dict[tuple[str, str, str], int] = defaultdict(int)
        self.tool_calls: dict[tuple[str, str, str], int] = defaultdict(int)
        self.decisions: dict[tuple[str, str], int] = defaultdict(int)
        self.spend: dict[str, Decimal] = defaultdict(Decimal)
        self.tokens: dict[tuple[str, str], int] = defaultdict(int)
        self.waits: dict[str, _Histogram] = {}
        self.positions: dict[str, int] = {}

    def seed(self, conn: psycopg.Connection) -> None:
        """Positions and counters from one snapshot: seq < size seeded, the rest followed."""
        was = conn.autocommit
        conn.autocommit = False
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                heads = {str(o): int(n) for o, n in conn.execute(query("metrics_heads"))}
                for origin, size in heads.items():
                    params = {"origin": origin, "to": size, "bounds": list(WAIT_BOUNDS)}
                    self._seed_rows(conn.execute(query("metrics_seed"), params).fetchall())
        finally:
            conn.rollback()
            conn.isolation_level = None
            conn.autocommit = was
        with self.lock:
            self.positions = heads

    def _seed_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        with self.lock:
            for kind, a, b, c, n, amount, t_in, t_out, bucket, wait_sum in rows:
                row = MetricRow(str(kind), str(a), str(b), str(c), Decimal(amount or 0),
                                int(t_in or 0), int(t_out or 0))  # fmt: skip
                self._add(row, int(n), None if bucket is None else int(bucket),
                          float(wait_sum or 0.0))

    def catch_up(self, conn: psycopg.Connection, origin: str | None = None) -> int:
        """Fold the rows sequenced since the last position of `origin` (None: every log, new
        logs from their start), up to each log's size now, in windows of WINDOW positions (each
        query bounded; positions advance past events no metric counts); returns rows folded."""
        heads = {str(o): int(n) for o, n in conn.execute(query("metrics_heads"))}
        folded = 0
        for log in [origin] if origin else list(heads):
            head = heads.get(log, 0)
            while (start := self.positions.get(log, 0)) < head:
                end = min(start + WINDOW, head)
                rows = conn.execute(query("metrics_rows_between"), (log, start, end)).fetchall()
                with self.lock:
                    for _seq, kind, a, b, c, amount, t_in, t_out, wait in rows:
                        self.fold(MetricRow(str(kind), str(a), str(b), str(c),
                                            Decimal(amount or 0), int(t_in or 0), int(t_out or 0),
                                            None if wait is None else float(wait)))  # fmt: skip
                    self.positions[log] = end
                folded += len(rows)
        return folded

    def fold(self, row: MetricRow) -> None:
        """Count one row (the caller holds the lock)."""
        bucket = None
        if row.kind == "approval_wait" and row.wait is not None:
            bucket = sum(1 for bound in WAIT_BOUNDS if bound < row.wait)
        self._add(row, 1, bucket, row.wait or 0.0)

    def _add(self, row: MetricRow, n: int, bucket: int | None, wait_sum: float) -> None:
        cap = self.caps
        if row.kind == "runs":
            self.runs[(cap["agent"](row.a), cap["version"](row.b), cap["status"](row.c))] += n
        elif row.kind == "tool_calls":
            self.tool_calls[(cap["tool"](row.a), cap["side_effect"](row.b),
                             cap["outcome"](row.c))] += n  # fmt: skip
        elif row.kind == "decisions":
            self.decisions[(cap["decision"](row.a), cap["mode"](row.b))] += n
        elif row.kind == "llm":
            agent = cap["agent"](row.a)
            self.spend[agent] += row.amount
            self.tokens[(agent, "input")] += row.tokens_in
            self.tokens[(agent, "output")] += row.tokens_out
        elif row.kind == "approval_wait" and bucket is not None:
            hist = self.waits.setdefault(cap["decision"](row.a),
                                         _Histogram([0] * (len(WAIT_BOUNDS) + 1)))
            hist.counts[bucket] += n
            hist.total += wait_sum
