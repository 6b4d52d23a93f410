"""The `ledger serve` plug-in that pushes the metrics over OTLP (`--otlp-endpoint URL`).

Why a plug-in: serve (ledger layer) must not import the exporters; it starts whatever is
registered under `agent_ledger.serve` and hands it the ServeContext. This one does nothing
unless `context.otlp_endpoint` is set. Then it acquires the process's metrics source (shared
with `--metrics-addr`: exporters/metrics/source.py, the log followed once), and a thread pushes
the source's samples once it is seeded, every `otlp_interval` seconds and once more at stop, so
what was sequenced just before Ctrl-C still reaches the receiver. (The first push waits for the
seed: under `delta` the first push is the baseline, and a baseline taken before the seed would
send the whole history as one spike.) A refused or unreachable endpoint never stops serve: the
first failure is one warning line, repeats stay silent until a push works again (one info line
then).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.serve import ServeContext
from ledger.terminal import printable

if TYPE_CHECKING:  # the SDK is imported only when an endpoint is given (the `otel` extra)
    from exporters.metrics.source import MetricsSource
    from exporters.otlp_push import OtlpProtocol, OtlpPush, PushResult, Temporality

__all__ = ["OtlpPlugin"]

log = logging.getLogger("ledger.serve.otlp")


class OtlpPlugin:
    """Registered as `otlp` under `agent_ledger.serve`."""

    def __init__(self) -> None:
        self._push: OtlpPush | None = None
        #: the process's shared metrics source while pushing (exporters/metrics/source.py)
        self.source: MetricsSource | None = None
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._lock = threading.Lock()
        #: pushes tried and pushes the receiver took (for `ledger serve`'s tests and status)
        self.attempts = 0
        self.delivered = 0

    def start(self, context: ServeContext) -> None:
        """Start pushing when an endpoint is configured (else do nothing)."""
        endpoint = context.otlp_endpoint
        if not endpoint:
            return
        try:
            from exporters.otlp_push import OtlpPush, PushConfig
        except ImportError as exc:
            raise InputError(f"--otlp-endpoint needs the OpenTelemetry SDK and OTLP exporters: "
                             f"pip install 'agent-ledger[otel]' ({exc.name} is missing)") from None
        from exporters.metrics.source import acquire

        # a push gives up (retries included) before the next one is due, within 0.1..10 s
        timeout = max(0.1, min(10.0, context.otlp_interval))
        protocol: OtlpProtocol = "grpc" if context.otlp_protocol == "grpc" else "http/protobuf"
        temporality: Temporality = "delta" if context.otlp_temporality == "delta" else "cumulative"
        config = PushConfig(endpoint, protocol, temporality, timeout)
        self.source = acquire(context.settings)
        self._push = OtlpPush(self.source.samples, config)
        interval = context.otlp_interval
        self._thread = threading.Thread(target=self._loop, args=(interval,),
                                        name="ledger-otlp-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, push once more, shut the exporter down."""
        if self._push is None:
            return
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        self._once()
        self._push.close()
        if self.source is not None:
            from exporters.metrics.source import release

            release(self.source)
            self.source = None

    def _loop(self, interval: float) -> None:
        while self.source is not None and not self.source.seeded.wait(0.05):
            if self._halt.is_set():
                return  # stopped before the seed: stop() pushes what there is
        self._once()
        while not self._halt.wait(interval):
            self._once()

    def _once(self) -> PushResult | None:
        if self._push is None:
            return None
        with self._lock:
            result = self._push.push()
            self.attempts += 1
            self.delivered += result.ok
            self._report(result)
        return result

    def _report(self, result: PushResult) -> None:
        endpoint = printable(self._push.config.endpoint if self._push else "")
        if not result.ok and not self._failing:
            log.warning("warning: OTLP push to %s failed (serve goes on, retrying every interval "
                        "quietly): %s", endpoint, printable(result.error or "unknown error"))
        elif result.ok and self._failing:
            log.info("OTLP push to %s works again", endpoint)
        self._failing = not result.ok
