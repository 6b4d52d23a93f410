"""The `agent_ledger.serve` plug-in behind `ledger serve --metrics-addr HOST:PORT`.

Threads of its own, connections of its own (the sequencer's is never shared): a follower
(seed, then LISTEN ledger_appended with a poll fallback: state.py), a refresher for the slow
gauges (SLIs from replay.slo.gauges, stored verdicts) every $LEDGER_METRICS_REFRESH seconds
(default 15), and prometheus_client's HTTP server over its own registry. Without
--metrics-addr it does nothing."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, start_http_server

from exporters.metrics.collector import LedgerCollector, Slow
from exporters.metrics.snapshot import PREFIX, Sample
from exporters.metrics.state import MetricsState
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.db.sqlfiles import query
from ledger.serve import ServeContext, parse_metrics_addr
from ledger.store.breakers import listen, wakeups
from ledger.terminal import printable

__all__ = ["REFRESH_ENV", "MetricsPlugin", "slow_samples"]

REFRESH_ENV = "LEDGER_METRICS_REFRESH"
POLL_SECONDS = 1.0
_log = logging.getLogger("ledger.serve.metrics")


def _why(exc: BaseException) -> str:
    return printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def slow_samples(conn: psycopg.Connection, settings: Settings, max_rules: int = 50) -> list[Sample]:
    """SLI gauges and stored verdict counts (top `max_rules` rules; the rest as "other")."""
    from replay.slo.gauges import sli_gauges

    out = [Sample(PREFIX + "sli", "gauge", "Behaviour SLIs (ledger slo), by sli, agent, version.",
                  {"sli": g.name, "agent": g.labels.get("agent", ""),
                   "version": g.labels.get("version", "")}, g.value)
           for g in sli_gauges(conn, settings)]  # fmt: skip
    counts: dict[tuple[str, str], int] = {}
    rules: list[str] = []
    for rule, outcome, n in conn.execute(query("metrics_verdicts")):
        name = printable(str(rule))[:128]
        if name not in rules and len(rules) >= max_rules:
            name = "other"
        elif name not in rules:
            rules.append(name)
        counts[(name, str(outcome))] = counts.get((name, str(outcome)), 0) + int(n)
    out += [Sample(PREFIX + "policy_verdicts", "gauge", "Stored rule verdicts (ledger check), "
                   "by rule and outcome.", {"rule": rule, "outcome": outcome}, n)
            for (rule, outcome), n in sorted(counts.items())]  # fmt: skip
    return out


class MetricsPlugin:
    """Serves /metrics while `ledger serve` runs (when `context.metrics_addr` is set)."""

    def __init__(self) -> None:
        self.state = MetricsState()
        self.slow = Slow()
        self.ready = threading.Event()  # set once seeded (tests wait on it)
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self._conn: psycopg.Connection | None = None

    def start(self, context: ServeContext) -> None:
        if context.metrics_addr is None:
            return
        host, port = parse_metrics_addr(context.metrics_addr)
        refresh = float(os.environ.get(REFRESH_ENV) or 15)
        self._conn = connect(context.settings)
        self._conn.autocommit = True
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LedgerCollector(self.state, self._conn, self.slow))
        self._server, _ = start_http_server(port, host, registry=registry)
        for name, target, args in (("ledger-metrics", self._follow, (context,)),
                                   ("ledger-metrics-slow", self._refresh, (context, refresh))):
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._done.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(10)
        if self._conn is not None:
            self._conn.close()

    def _going(self, context: ServeContext) -> bool:
        return not (self._done.is_set() or context.stop.is_set())

    def _follow(self, context: ServeContext) -> None:
        try:
            with connect(context.settings) as conn, connect(context.settings) as waiter:
                conn.autocommit = waiter.autocommit = True
                listen(waiter)  # before the seed's snapshot: no batch falls between
                self.state.seed(conn)
                self.ready.set()
                for origin in wakeups(waiter, POLL_SECONDS, lambda: self._going(context)):
                    try:
                        self.state.catch_up(conn, origin or None)
                    except psycopg.OperationalError:
                        raise
                    except Exception as exc:  # one bad wake-up must not end the metrics
                        _log.warning("metrics: %s", _why(exc))
        except Exception as exc:  # the thread never dies silently
            _log.error("metrics stopped following the log: %s", _why(exc))
        finally:
            self.ready.set()

    def _refresh(self, context: ServeContext, every: float) -> None:
        try:
            with connect(context.settings) as conn:
                conn.autocommit = True
                while self._going(context):
                    try:
                        self.slow.samples = tuple(slow_samples(conn, context.settings))
                    except psycopg.OperationalError:
                        raise
                    except Exception as exc:
                        _log.warning("metrics: slow gauges not refreshed: %s", _why(exc))
                    self._done.wait(every)
        except Exception as exc:
            _log.error("metrics stopped refreshing the SLI gauges: %s", _why(exc))
