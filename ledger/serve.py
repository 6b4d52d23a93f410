"""`ledger serve`: the long-running sequencer for production deployments.

In embedded mode writers sequence opportunistically after each submit. With several agent
hosts writing to one external PostgreSQL, one `ledger serve` process or several drain intake
continuously so receipts become published checkpoints within a few tens of milliseconds.
Several split the origins with work or a live lease between them and take over a dead one's
origins when its leases expire (ledger.store.leases, docs/sequencers.md); `tenants`
(`--tenant`) are the ones a process prefers, and they move to it from one that does not. The
heartbeat in ledger_sequencer_state, refreshed at most once a second, tells `ledger verify` a
sequencer runs.

Plug-ins (metrics exporters, circuit breakers; later issues) run beside the sequencer. A higher
layer implements `ServePlugin` and registers it under the entry-point group `agent_ledger.serve`
in its pyproject.toml; `serve` starts each before the first batch and stops them in reverse
order when it ends, however it ends.

    [project.entry-points."agent_ledger.serve"]
    metrics = "exporters.metrics.plugin:MetricsPlugin"

What a plug-in needs from the command line comes in the context: `metrics_addr` (`ledger serve
--metrics-addr HOST:PORT`, exporters/metrics), `otlp_endpoint` and `otlp_interval` (the OTLP
metrics push), `tiles_dir` (the static tlog-tiles, ledger/tiles_plugin.py); a plug-in whose
option is unset does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ledger.config import Settings
from ledger.plugins import SERVE, PluginError, load_instances
from ledger.serve_abandon import Abandoner, abandon_after
from ledger.store.leases import Lessee, lease_seconds, new_holder
from ledger.store.liveness import Heartbeat, held_max_age
from ledger.store.sequencer import log_signer, sequence_batch

if TYPE_CHECKING:
    import psycopg

    from ledger.note import Signer
    from ledger.store.sequencer import BatchResult

__all__ = ["ServeContext", "ServePlugin", "installed_plugins", "parse_metrics_addr", "serve"]


@dataclass(frozen=True)
class ServeContext:
    """What a plug-in gets at start: the settings (open its own connections), the stop flag,
    and the plug-ins' options from `ledger serve` (each plug-in reads its own; issue 19)."""

    settings: Settings
    stop: threading.Event
    #: `--metrics-addr HOST:PORT`: serve Prometheus /metrics there (exporters/metrics)
    metrics_addr: str | None = None
    #: `--otlp-endpoint URL`: push the metrics over OTLP there (exporters/otlp_serve.py)
    otlp_endpoint: str | None = None
    #: seconds between two OTLP pushes (`--otlp-interval`)
    otlp_interval: float = 10.0
    #: "http/protobuf" or "grpc" (`--otlp-protocol`)
    otlp_protocol: str = "http/protobuf"
    #: "cumulative" or "delta" counters (`--otlp-temporality`)
    otlp_temporality: str = "cumulative"
    #: `--tiles-dir DIR`: keep static C2SP tlog-tiles there (ledger/tiles_plugin.py)
    tiles_dir: Path | None = None


def parse_metrics_addr(text: str) -> tuple[str, int]:
    """(host, port) of HOST:PORT (`[::1]:9464` for IPv6); ValueError one line when malformed."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not HOST:PORT (e.g. 127.0.0.1:9464): {text!r}")
    return host, int(port)


@runtime_checkable
class ServePlugin(Protocol):
    """Start/stop hooks around the sequencer loop; start must return (run threads of your own)."""

    def start(self, context: ServeContext) -> None:
        """Called once before the first batch."""
        ...

    def stop(self) -> None:
        """Called once when serve ends (Ctrl-C, stop flag or error), in reverse start order."""
        ...


def installed_plugins() -> list[ServePlugin]:
    """Every plug-in registered under `agent_ledger.serve`."""
    plugins: list[ServePlugin] = []
    for name, obj in load_instances(SERVE):
        if not isinstance(obj, ServePlugin):
            raise PluginError(f"serve plug-in {name!r} lacks start(context)/stop(): {obj!r}")
        plugins.append(obj)
    return plugins


def serve(
    conn: psycopg.Connection,
    settings: Settings,
    stop: threading.Event | None = None,
    idle_sleep: float = 0.01,
    plugins: Sequence[ServePlugin] = (),
    *,
    abandon: str | None = None,
    context: ServeContext | None = None,
    tenants: Sequence[str] = (),
) -> int:
    """Sequence until `stop` is set; returns the number of events sequenced.

    `context` carries the plug-ins' options (its stop flag is then the one obeyed); without
    it the plug-ins get the settings and `stop` only.

    Between batches, runs suspended longer than `abandon` (else $LEDGER_ABANDON_AFTER, else
    7 days) are ended `abandoned` (ledger/serve_abandon.py). The metrics and OTLP options go to
    the plug-ins in their ServeContext."""
    signer = log_signer(settings, conn)
    held_max_age(settings)  # a malformed LEDGER_HELD_MAX_AGE fails now, not at the first held row
    abandoner = Abandoner(abandon_after(abandon))  # a malformed limit fails now too
    lessee = Lessee(new_holder(), tuple(tenants), lease_seconds(settings))
    if context is None:
        context = ServeContext(settings, stop or threading.Event())
    stop = context.stop
    total = 0
    with ExitStack() as running:
        lessee.beat(conn, force=True)  # counted in the fair share from now on
        running.callback(lessee.leave, conn)  # a clean exit gives its origins back at once
        heartbeat = Heartbeat(conn)  # `ledger verify` sees a live sequencer (store.liveness)
        heartbeat.beat(force=True)  # (waits while a key operation runs)
        running.callback(heartbeat.clear)
        for plugin in plugins:
            plugin.start(context)
            running.callback(plugin.stop)
        while not stop.is_set():
            batch = _batch(conn, settings, signer, lessee)
            heartbeat.beat()
            lessee.beat(conn)
            total += 0 if batch is None else batch.sequenced
            if abandoner.tick(conn, settings):
                continue  # sequence the run.ended events now
            if batch is None or not batch.progressed:
                stop.wait(idle_sleep)
    return total


def _batch(
    conn: psycopg.Connection, settings: Settings, signer: Signer, lessee: Lessee
) -> BatchResult | None:
    """One batch; a deadlock or serialization failure (two sequencers racing on a run that a
    hostile writer spread over two origins) rolls back that batch only: the next one retries."""
    import psycopg

    try:
        return sequence_batch(conn, settings, signer, lessee=lessee)
    except psycopg.errors.TransactionRollback:
        return None
