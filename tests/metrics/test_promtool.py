"""The shipped alerting rules and our exposition, checked by Prometheus's own promtool: the
rules load, their unit tests (deploy/prometheus/alerts_test.yml: fast and slow SLO burn, a
stop, a backlog, a stalled sequencer, a stale witness) pass, and `/metrics` of a real
`ledger serve --metrics-addr` passes `promtool check metrics` with no warning."""

from __future__ import annotations

import subprocess

import pytest

from ledger.config import Settings
from tests.metrics.conftest import PROMTOOL, ROOT, Serve, free_port

pytestmark = [
    pytest.mark.xdist_group("prometheus"),
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
    assert "SUCCESS: 13 rules found" in checked.stdout
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


def test_bad_address_is_one_line_exit_2(cli: object) -> None:
    for bad in ("nope", "127.0.0.1:", "127.0.0.1:99999", ":9464"):
        res = cli("serve", "--metrics-addr", bad)  # type: ignore[operator]
        assert res.exit_code == 2, (bad, res)
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: --metrics-addr: ")
