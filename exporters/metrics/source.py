"""The one metrics source of a `ledger serve` process: both exporters read it.

Why one: `--metrics-addr` (Prometheus scrape) and `--otlp-endpoint` (OTLP push) must show the
same names and the same values, and following the log twice would double the database work.
So the first plug-in that needs metrics `acquire()`s the source (which starts its two threads)
and the last one to `release()` it stops them; either plug-in alone works the same way.

Two threads, two connections of their own (the sequencer's is never shared):
- the **follower** seeds the counters (state.py: SQL aggregates over the whole log, in the
  background, so serve starts at once) and then folds what is sequenced (LISTEN
  ledger_appended, a poll every second as fallback);
- the **refresher** reads every database gauge (intake backlog, checkpoint age, newest
  cosignature, stops) every `GAUGE_SECONDS`, and the slow ones (SLIs, stored verdicts) every
  `refresh` seconds ($LEDGER_METRICS_REFRESH, default 15).

A snapshot therefore reads memory only (a scrape never waits on the database). Until the seed
is done the counters are left out (a counter that appeared at 0 and then jumped to the log's
total would look like a burst of traffic to `rate()`), and `agent_ledger_metrics_seeded` is 0.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg

from exporters.metrics.collector import db_samples, slow_samples, state_samples
from exporters.metrics.snapshot import PREFIX, MetricsSnapshot, Sample
from exporters.metrics.state import MetricsState
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.breakers import listen, wakeups
from ledger.terminal import printable

__all__ = ["GAUGE_SECONDS", "REFRESH_ENV", "MetricsSource", "acquire", "release"]

REFRESH_ENV = "LEDGER_METRICS_REFRESH"
GAUGE_SECONDS = 1.0  # the database gauges' refresh period (at most; less when refresh is less)
POLL_SECONDS = 1.0
_log = logging.getLogger("ledger.serve.metrics")


def _why(exc: BaseException) -> str:
    return printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _gauge(name: str, help_: str, value: float) -> Sample:
    return Sample(PREFIX + name, "gauge", help_, {}, value)


class MetricsSource:
    """Counters followed from the log and gauges refreshed in the background; `snapshot()` and
    `samples()` (the OTLP push's `Callable[[], Sequence[Sample]]`) read memory only."""

    def __init__(self, settings: Settings, refresh: float | None = None) -> None:
        self.settings = settings
        self.refresh = float(os.environ.get(REFRESH_ENV) or 15) if refresh is None else refresh
        self.state = MetricsState()
        self.seeded = threading.Event()  # set once the counters agree with the log
        self.refreshed = threading.Event()  # set after the first gauge refresh
        self._gauges: tuple[Sample, ...] = ()
        self._slow: tuple[Sample, ...] = ()
        self._refreshed_at: float | None = None
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the follower and the refresher; returns at once (the seed runs behind)."""
        for name, target in (("ledger-metrics-follow", self._follow),
                             ("ledger-metrics-refresh", self._refresh)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop both threads (each closes its connection)."""
        self._done.set()
        for thread in self._threads:
            thread.join(30)

    def snapshot(self) -> MetricsSnapshot:
        """Every sample now, from memory."""
        counters = state_samples(self.state) if self.seeded.is_set() else []
        meta = [_gauge("metrics_seeded", "1 once the counters are seeded from the log (before, "
                       "the counters are not exposed).", 1.0 if self.seeded.is_set() else 0.0)]
        if self._refreshed_at is not None:
            meta.append(_gauge("metrics_refreshed_timestamp_seconds", "Unix time of the last "
                               "refresh of the database gauges (backlog, checkpoint age, "
                               "cosignature, stops).", self._refreshed_at))
        return MetricsSnapshot((*counters, *self._gauges, *self._slow, *meta), time.time())

    def samples(self) -> list[Sample]:
        """The samples of a snapshot (what the OTLP push reads)."""
        return list(self.snapshot().samples)

    def _going(self) -> bool:
        return not self._done.is_set()

    def _follow(self) -> None:
        try:
            with connect(self.settings) as conn, connect(self.settings) as waiter:
                conn.autocommit = waiter.autocommit = True
                listen(waiter)  # before the seed's snapshot: no batch falls between
                started = time.perf_counter()
                self.state.seed(conn)
                self.seeded.set()
                _log.info("metrics seeded in %.1f s", time.perf_counter() - started)
                for origin in wakeups(waiter, POLL_SECONDS, self._going):
                    try:
                        self.state.catch_up(conn, origin or None)
                    except psycopg.OperationalError:
                        raise
                    except Exception as exc:  # one bad wake-up must not end the metrics
                        _log.warning("metrics: %s", _why(exc))
        except Exception as exc:  # the thread never dies silently
            if self._going():
                _log.error("metrics stopped following the log: %s", _why(exc))

    def _refresh(self) -> None:
        every = min(GAUGE_SECONDS, self.refresh)
        slow_due = 0.0
        try:
            with connect(self.settings) as conn:
                conn.autocommit = True
                while self._going():
                    try:
                        self._gauges = tuple(db_samples(conn))
                        self._refreshed_at = time.time()
                        self.refreshed.set()
                        if time.monotonic() >= slow_due:
                            self._slow = tuple(slow_samples(conn, self.settings))
                            slow_due = time.monotonic() + self.refresh
                    except psycopg.OperationalError:
                        raise
                    except Exception as exc:
                        _log.warning("metrics: gauges not refreshed: %s", _why(exc))
                    self._done.wait(every)
        except Exception as exc:
            if self._going():
                _log.error("metrics stopped refreshing the gauges: %s", _why(exc))


_shared: dict[tuple[str | None, str], tuple[MetricsSource, int]] = {}
_shared_lock = threading.Lock()


def _key(settings: Settings) -> tuple[str | None, str]:
    return settings.dsn, str(settings.home)


def acquire(settings: Settings) -> MetricsSource:
    """The process's source for this ledger, started by the first caller."""
    with _shared_lock:
        source, users = _shared.get(_key(settings), (None, 0))
        if source is None:
            source = MetricsSource(settings)
            source.start()
        _shared[_key(settings)] = (source, users + 1)
        return source


def release(source: MetricsSource) -> None:
    """One user less; the last one stops the source."""
    with _shared_lock:
        key = _key(source.settings)
        held, users = _shared.get(key, (None, 0))
        if held is not source:
            return
        if users > 1:
            _shared[key] = (source, users - 1)
            return
        del _shared[key]
    source.stop()
