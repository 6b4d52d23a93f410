"""One real Prometheus server per test session (Debian's `prometheus`), scraping the test's
`ledger serve --metrics-addr` on a fixed free loopback port every second.

Why one: starting Prometheus costs about a second; each test starts its own `ledger serve` on
the session's target port (the tests of this directory run in one xdist group) and waits, by
polling PromQL with a deadline, until Prometheus has scraped what it expects. Skips, saying
why, only when `prometheus` is not installed (.ci/run installs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.config import Settings
from tests.conftest import free_port

LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.xdist_group("prometheus")




def until(what: Callable[[], Any], timeout: float = 20.0, why: str = "condition") -> Any:
    """Poll `what` until truthy (a deadline, never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, f"{why} not met in {timeout:g}s"
        time.sleep(0.1)
    return got


def get(url: str) -> bytes | None:
    """The body of a GET, or None when the server does not answer (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bytes(resp.read())
    except OSError:
        return None


@dataclass(frozen=True)
class Prom:
    """The session's Prometheus: its API URL and the ledger target port it scrapes."""

    url: str
    target_port: int

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result vector of an instant query; an error fails the test with its text."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{promql}: {exc.read().decode()}") from None
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def value(self, promql: str) -> float | None:
        """The single value of a query (None when it returns no series)."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def scraped_since(self, when: float, timeout: float = 20.0) -> None:
        """Wait until Prometheus has scraped a serve whose gauges were refreshed after `when`
        (Unix time): the next values come from that process, not from an earlier one."""
        until(lambda: self.query(f"agent_ledger_metrics_refreshed_timestamp_seconds > {when}"),
              timeout, f"a scrape of the serve started at {when}")

    def eventually(self, promql: str, expected: float, timeout: float = 20.0) -> None:
        """Wait until the query returns exactly `expected` (scrapes are once a second)."""
        until(lambda: self.value(promql) == expected, timeout,
              f"{promql} == {expected:g} (last {self.value(promql)})")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus; .ci/run does)")
    work = tmp_path_factory.mktemp("prometheus")
    target, port = free_port(), free_port()
    config = work / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{ROOT / 'deploy/prometheus/alerts.yml'}]\n"
        "scrape_configs:\n"
        "  - job_name: agent-ledger\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n"
    )
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=(work / "prometheus.log").open("wb"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: get(f"{url}/-/ready") is not None or proc.poll() is not None, 30,
              "prometheus ready")
        assert proc.poll() is None, (work / "prometheus.log").read_text()
        yield Prom(url, target)
    finally:
        proc.terminate()
        proc.wait(10)


class Serve:
    """A `ledger serve --metrics-addr` subprocess on the session's target port, up and seeded
    (its start() returns before the seed: /metrics says `agent_ledger_metrics_seeded 0` until
    the counters agree with the log, and leaves them out)."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.started_at = time.time()
        env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home),
               "LEDGER_METRICS_REFRESH": "0.5"}
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.proc = subprocess.Popen([LEDGER_BIN, "serve", "--metrics-addr", f"127.0.0.1:{port}"],
                                     env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)  # fmt: skip
        until(lambda: "agent_ledger_metrics_seeded 1.0" in self.text()
              or self.proc.poll() is not None, 30, "serve up and seeded")
        assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""

    def text(self) -> str:
        return (get(self.url) or b"").decode()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def serve_metrics(
    ledger_settings: Settings, prometheus: Prom
) -> Iterator[Callable[[], Serve]]:
    """Start (and at the end stop) `ledger serve --metrics-addr` on the scraped port."""
    started: list[Serve] = []

    def start() -> Serve:
        for old in started:
            old.close()
        started.append(Serve(ledger_settings, prometheus.target_port))
        return started[-1]

    yield start
    for s in started:
        s.close()
