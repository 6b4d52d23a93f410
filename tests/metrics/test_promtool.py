"""The shipped alerting rules and our exposition, checked by Prometheus's own promtool: the
rules load, their unit tests (deploy/prometheus/alerts_test.yml: fast and slow SLO burn, a
stop, a backlog, a stalled sequencer, a stale witness) pass, and `/metrics` of a real
`ledger serve --metrics-addr` passes `promtool check metrics` with no warning."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.serve import parse_metrics_addr
from tests.metrics.conftest import LEDGER_BIN, PROMTOOL, ROOT, Serve, free_port

pytestmark = [
    pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (apt-get install "
                       "prometheus; .ci/run does)"),
]
DEPLOY = ROOT / "deploy/prometheus"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, check=False, cwd=DEPLOY)  # fmt: skip


def test_rules_load_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 14 rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    config = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_exposition_passes_promtool(ledger_settings: Settings) -> None:
    served = Serve(ledger_settings, free_port())
    try:
        text = served.text()
    finally:
        served.close()
    assert "agent_ledger_sequencer_backlog_events 0.0" in text
    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_bad_address_is_one_line_exit_2(tmp_path: Path) -> None:
    for bad in ("nope", "127.0.0.1:", "127.0.0.1:99999", ":9464", "[::1]"):
        with pytest.raises(ValueError, match="not HOST:PORT"):
            parse_metrics_addr(bad)
    assert parse_metrics_addr("[::1]:9464") == ("::1", 9464)
    env = {**os.environ, "LEDGER_HOME": str(tmp_path)}
    res = subprocess.run([LEDGER_BIN, "serve", "--metrics-addr", "127.0.0.1:99999"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert res.returncode == 2, res
    assert res.stderr == ("error: --metrics-addr: not HOST:PORT (e.g. 127.0.0.1:9464): "
                          "'127.0.0.1:99999'\n")
