"""`ledger serve --otlp-*` as a real process: bad options are one line and exit 2 before
anything starts; a good endpoint gets the recorded runs (the same counters `--metrics-addr`
serves beside it), and Ctrl-C pushes once more."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli.serve_cmd import _choice, _endpoint, _interval
from ledger.config import Settings
from ledger.errors import InputError

from .conftest import EXPECTED, DdAgent, counters, free_port, record_runs, scraped, series, until

LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
NOT_A_URL = "is not an http(s)://HOST[:PORT] URL (e.g. http://127.0.0.1:4318)"


@pytest.mark.parametrize(("args", "line"), [
    (["--otlp-endpoint", "http://\x1b[31mred:4318"],  # attacker text is shown escaped
     f"error: --otlp-endpoint 'http://\\x1b[31mred:4318' {NOT_A_URL}"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path: Path, args: list[str], line: str) -> None:
    """Refused before serve connects or starts anything (no database needed)."""
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DSN"}
    res = subprocess.run([LEDGER_BIN, "serve", *args], env={**env, "LEDGER_HOME": str(tmp_path)},
                         capture_output=True, timeout=60, check=False)
    assert (res.returncode, res.stderr.decode(), res.stdout) == (2, line + "\n", b"")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:99999", "http://127.0.0.1:0", "http://[::1:4318", "http://user:pw@h:4318",
    "http://h:4318/?token=1", "http://h :4318", "127.0.0.1:4318", "http://", "grpc://h:4317",
])
def test_every_malformed_endpoint_is_refused_with_the_same_line(url: str) -> None:
    with pytest.raises(InputError, match=r"^--otlp-endpoint '.*' is not an http\(s\)://"):
        _endpoint(url)


def test_good_options_parse() -> None:
    assert _endpoint("https://otlp.example:443/v1/metrics") == "https://otlp.example:443/v1/metrics"
    assert _endpoint("http://[::1]:4318") == "http://[::1]:4318"
    assert (_interval("2.5"), _interval("1m")) == (2.5, 60.0)
    assert _choice("delta", "--otlp-temporality", ("cumulative", "delta")) == "delta"
    for bad in ("0", "-1", "inf", "nan"):
        with pytest.raises(InputError, match="must be a positive number of seconds"):
            _interval(bad)
    with pytest.raises(InputError, match="'weekly' is not one of: cumulative, delta"):
        _choice("weekly", "--otlp-temporality", ("cumulative", "delta"))


def test_the_real_ledger_serve_pushes_and_pushes_again_at_ctrl_c(
    test_agent: DdAgent, ledger_settings: Settings
) -> None:
    env = {**os.environ, "LEDGER_DSN": ledger_settings.dsn or "",
           "LEDGER_HOME": str(ledger_settings.home)}
    port = free_port()
    proc = subprocess.Popen([LEDGER_BIN, "serve", "--otlp-endpoint", test_agent.http,
                             "--otlp-interval", "1h", "--metrics-addr", f"127.0.0.1:{port}"],
                            env=env, stderr=subprocess.PIPE)
    try:
        until(test_agent.payloads, timeout=30)  # the push at start: serve is up
        record_runs(ledger_settings, sequence=False)
        # what the scrape shows now is what the push at Ctrl-C sends: one source
        until(lambda: scraped(f"http://127.0.0.1:{port}/metrics") == EXPECTED, timeout=30)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    first, last = test_agent.payloads()  # at start and at Ctrl-C, none in between
    assert (counters(series(first)), counters(series(last))) == ({}, EXPECTED)
    assert b"warning" not in stderr
