"""`ledger monitor`: verify continuously, alert within seconds of a tamper (ledger.monitor)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    TrustRootOption,
    connection,
    input_option,
    settings_from,
)
from ledger.errors import InputError, KeyUnavailable

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--metrics-addr {value!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)


@app.command("monitor")
def monitor(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", metavar="S", min=0.1,
                            help="Seconds between polls when no NOTIFY wakes the monitor.")
    ] = 5.0,
    sample: Annotated[
        int, typer.Option("--sample", metavar="K", min=0,
                          help="Old entries re-checked per log and cycle (inclusion proof).")
    ] = 16,
    state: Annotated[
        Path | None,
        typer.Option("--state", metavar="DIR", envvar="LEDGER_VERIFY_STATE",
                     help="Where the newest verified checkpoints are kept, outside the "
                     "database (default: <home>/verified)."),
    ] = None,
    metrics_addr: Annotated[
        str | None, typer.Option("--metrics-addr", metavar="HOST:PORT",
                                 help="Serve the monitor's metrics at http://HOST:PORT/metrics.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (cron).")] = False,
    trust: Annotated[
        list[Path] | None,
        input_option("--trust", help="File of trusted log vkeys (one per line); repeatable."),
    ] = None,
    sign_with: Annotated[
        str | None, typer.Option("--sign-with", metavar="KEY",
                                 help="Key file or pkcs11: URI signing the monitor.alert record.")
    ] = None,
    trust_root: TrustRootOption = None,
    as_: AsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Verify every log from its newest verified checkpoint at each sequenced batch (LISTEN,
    polling fallback), re-check K random old entries per cycle, and record each verified
    checkpoint outside the database.

    Exit 1 on a tamper (one line on stderr naming origin, seq and reason; metric
    agent_ledger_monitor_tamper 1; a monitor.alert operator event), 0 after --once, 2 for
    usage errors, 3 when the database cannot be reached, 4 when no trusted log key is found.
    """
    from ledger.authority.trust import trust_root as load_root
    from ledger.gates import load_gate_signer
    from ledger.monitor import MonitorMetrics, MonitorOptions, run_monitor
    from ledger.verified_state import VerifiedState, state_dir
    from ledger.verify import trusted_verifiers

    settings = settings_from(ctx)
    verifiers = trusted_verifiers(settings, trust or [])
    if not verifiers:
        raise KeyUnavailable(
            f"no trusted log key: {settings.log_key_path}.pub is missing; pass --trust FILE"
        )
    address = _host_port(metrics_addr) if metrics_addr is not None else None
    options = MonitorOptions(
        interval, sample, once, json_out, as_ or "monitor",
        load_gate_signer(sign_with) if sign_with is not None else None, load_root(trust_root),
    )  # fmt: skip
    metrics = MonitorMetrics()
    if address is not None:
        metrics.serve(*address)
    conn = connection(ctx, migrate=False)
    code = run_monitor(
        conn, settings, VerifiedState(state_dir(settings, state)), verifiers, options, metrics,
        typer.echo, lambda line: typer.echo(line, err=True),
    )  # fmt: skip
    raise typer.Exit(code)
