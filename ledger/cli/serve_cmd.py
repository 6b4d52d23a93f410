"""`ledger serve`: run the sequencer continuously, with the installed serve plug-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from ledger.cli.common import connection, duration_option, err, settings_from
from ledger.errors import InputError
from ledger.terminal import printable

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("serve")
def serve(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    abandon_after: Annotated[str | None, duration_option(
        "--abandon-after",
        help="End runs suspended longer than this as abandoned (seconds, or e.g. 12h, 7d; "
             "default $LEDGER_ABANDON_AFTER, else 7d).")] = None,
    metrics_addr: Annotated[str | None, typer.Option(
        "--metrics-addr", metavar="HOST:PORT",
        help="Serve Prometheus /metrics here (docs/metrics.md), e.g. 127.0.0.1:9464.")] = None,
    otlp_endpoint: Annotated[str | None, typer.Option(
        "--otlp-endpoint", metavar="URL",
        help="Push the metrics over OTLP to this http(s) URL (Datadog Agent, Grafana Alloy, "
             "an OTel Collector; e.g. http://127.0.0.1:4318). docs/metrics-otlp.md.")] = None,
    otlp_interval: Annotated[str, duration_option(
        "--otlp-interval", help="Seconds between two OTLP pushes (or e.g. 30s, 1m).")] = "10",
    otlp_protocol: Annotated[str, typer.Option(
        "--otlp-protocol", metavar="PROTOCOL",
        help="http/protobuf (port 4318, the default) or grpc (port 4317).")] = "http/protobuf",
    otlp_temporality: Annotated[str, typer.Option(
        "--otlp-temporality", metavar="TEMPORALITY",
        help="cumulative (the default; Prometheus-bound pipelines need it) or delta "
             "(Datadog accepts both).")] = "cumulative",
    tiles_dir: Annotated[Path | None, typer.Option(
        "--tiles-dir", metavar="DIR",
        help="Keep static C2SP tlog-tiles of every log here, brought up to date after each "
             "checkpoint (docs/tiles.md); a write failure is a warning, never a stop.")] = None,
    tenant: Annotated[list[str] | None, typer.Option(
        "--tenant", metavar="TENANT",
        help="Prefer this tenant's log when several `ledger serve` share the work "
             "(repeatable; docs/sequencers.md). Others' logs are still sequenced.")] = None,
) -> None:
    """Run the sequencer: drain intake into the log and sign checkpoints until Ctrl-C.

    Several may run at once: they split the tenants' logs with work between them and take over
    a stopped one's logs within $LEDGER_LEASE_SECONDS (default 5).

    It also ends runs suspended (waiting to be resumed) for longer than --abandon-after with a
    run.ended of status abandoned that continues the run's chain."""
    import signal
    import threading

    from ledger.errors import InputError
    from ledger.serve import ServeContext, installed_plugins, parse_metrics_addr
    from ledger.serve import serve as run_sequencer
    from ledger.serve_abandon import abandon_after as parse_abandon

    settings = settings_from(ctx)
    try:
        parse_abandon(abandon_after)
    except ValueError as exc:  # a one-line usage error, before anything starts
        raise typer.BadParameter(str(exc), param_hint="--abandon-after") from None
    if metrics_addr is not None:
        try:
            parse_metrics_addr(metrics_addr)
        except ValueError as exc:
            raise InputError(f"--metrics-addr: {exc}") from None  # one line, exit 2
    context = ServeContext(
        settings, threading.Event(), metrics_addr=metrics_addr,
        otlp_endpoint=_endpoint(otlp_endpoint), otlp_interval=_interval(otlp_interval),
        otlp_protocol=_choice(otlp_protocol, "--otlp-protocol", ("http/protobuf", "grpc")),
        otlp_temporality=_choice(otlp_temporality, "--otlp-temporality",
                                 ("cumulative", "delta")), tiles_dir=tiles_dir)
    tenants = _tenants(tenant or [])
    from ledger.store.leases import lease_seconds

    lease_seconds(settings)  # a malformed LEDGER_LEASE_SECONDS fails before anything starts
    plugins = installed_plugins()
    # SIGTERM (systemd, Kubernetes) ends it like Ctrl-C: the batch commits, the leases are
    # given back at once and the heartbeat is withdrawn (docs/sequencers.md)
    signal.signal(signal.SIGTERM, lambda *_: context.stop.set())
    err(f"sequencing into {settings.origin_prefix}/* (Ctrl-C to stop)")
    # Ctrl-C ends it: exit code 130, nothing lost; plug-ins are stopped on the way out
    run_sequencer(connection(ctx), settings, plugins=plugins, abandon=abandon_after,
                  context=context, tenants=tenants)


def _endpoint(url: str | None) -> str | None:
    """An OTLP endpoint: http(s)://HOST[:PORT][/PATH], no query, no credentials in it."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a bad port, an unbalanced [IPv6] bracket
        parts, port_ok = urlsplit(""), False
    if (not port_ok or parts.scheme not in ("http", "https") or not parts.hostname
            or not url.isprintable() or " " in url
            or parts.query or parts.fragment or parts.username is not None):
        raise InputError(f"--otlp-endpoint '{printable(url)}' is not an http(s)://HOST[:PORT] "
                         "URL (e.g. http://127.0.0.1:4318)")
    return url


def _interval(text: str) -> float:
    """Seconds (`10`, `2.5`) or a span (`30s`, `1m`); positive."""
    from ledger.when import parse_duration

    try:
        seconds = float(text)
    except ValueError:
        seconds = parse_duration(text, "--otlp-interval").total_seconds()
    if not seconds > 0 or seconds == float("inf"):
        raise InputError(f"--otlp-interval '{printable(text)}' must be a positive number of "
                         "seconds")
    return seconds


def _choice(value: str, flag: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(f"{flag} '{printable(value)}' is not one of: {', '.join(allowed)}")
    return value


def _tenants(names: list[str]) -> tuple[str, ...]:
    """The --tenant names, checked like every tenant name (one line, exit 2 when bad)."""
    import re

    from ledger.events import TENANT_PATTERN

    for name in names:
        if not re.fullmatch(TENANT_PATTERN, name):
            raise InputError(f"--tenant '{printable(name)}' is not a tenant name "
                             "(lower-case letters, digits, '_', '.', '-')")
    return tuple(dict.fromkeys(names))
