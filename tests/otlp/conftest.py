"""Datadog's own test agent as the OTLP receiver: one per test session (per xdist worker).

It runs from tests/envs/ddagent (its own locked uv project: ddapm-test-agent pins an older
opentelemetry-proto than ours) on free loopback ports. It serves OTLP over HTTP (`/v1/metrics`)
and gRPC, and reads back what it received at `/test/session/metrics` on the OTLP HTTP port;
`/test/session/start` there begins a new session, so each test sees only its own pushes.
Missing env: the tests fail saying how to build it, never skip.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ledger
from exporters.metrics.snapshot import Sample
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.hooks import configure, shutdown
from tests.conftest import free_port

ENV = Path(__file__).resolve().parents[1] / "envs" / "ddagent"
AGENT_BIN = ENV / ".venv" / "bin" / "ddapm-test-agent"
START_DEADLINE_S = 60.0

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class DdAgent:
    """A running test agent: where to push (HTTP URL, gRPC URL) and where to read back."""

    http: str
    grpc: str
    proc: subprocess.Popen[bytes]

    def start_session(self) -> None:
        with urllib.request.urlopen(f"{self.http}/test/session/start", timeout=5):
            pass

    def payloads(self) -> list[dict[str, Any]]:
        """Every ExportMetricsServiceRequest received in this session (decoded to JSON), oldest
        first (the agent lists them newest first)."""
        with urllib.request.urlopen(f"{self.http}/test/session/metrics", timeout=5) as resp:
            got: list[dict[str, Any]] = json.loads(resp.read())
        return sorted(got, key=_pushed_at)


def _pushed_at(payload: dict[str, Any]) -> int:
    return max((int(point["time_unix_nano"])
                for rm in payload.get("resource_metrics", [])
                for sm in rm.get("scope_metrics", [])
                for m in sm.get("metrics", [])
                for kind in ("sum", "gauge", "histogram") if kind in m
                for point in m[kind].get("data_points", [])), default=0)




def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/test/session/metrics", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def test_agent_server() -> Iterator[DdAgent]:
    if not AGENT_BIN.exists():
        pytest.fail("the Datadog test agent env is missing: build it with "
                    "`make tests/envs/ddagent/.venv/.synced` (or `make test`)")
    work = Path(tempfile.mkdtemp(prefix="ledger-ddagent-"))
    apm, http, grpc = free_port(), free_port(), free_port()
    log = work / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(AGENT_BIN), "--port", str(apm), "--otlp-http-port", str(http),
             "--otlp-grpc-port", str(grpc), "--snapshot-dir", str(work)],
            cwd=work, stdout=out, stderr=subprocess.STDOUT)
    agent = DdAgent(f"http://127.0.0.1:{http}", f"http://127.0.0.1:{grpc}", proc)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not _up(agent.http):
            if proc.poll() is not None:
                pytest.fail(f"ddapm-test-agent exited {proc.returncode}:\n"
                            f"{log.read_text()[-2000:]}")
            assert time.monotonic() < deadline, f"test agent not up:\n{log.read_text()[-2000:]}"
            time.sleep(0.05)
        yield agent
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def test_agent(test_agent_server: DdAgent) -> DdAgent:
    """The session's test agent, with a new session begun for this test."""
    test_agent_server.start_session()
    return test_agent_server


def series(payload: dict[str, Any]) -> Series:
    """One received request as {(metric name, attributes): value} (sums and gauges)."""
    out: Series = {}
    for rm in payload.get("resource_metrics", []):
        for sm in rm.get("scope_metrics", []):
            for metric in sm.get("metrics", []):
                data = metric.get("sum") or metric.get("gauge") or {}
                for point in data.get("data_points", []):
                    attrs = frozenset((a["key"], a["value"]["string_value"])
                                      for a in point.get("attributes", []))
                    value = point.get("as_double", point.get("as_int"))
                    out[(metric["name"], attrs)] = float(value)
    return out


def until(what: Any, timeout: float = 15.0) -> Any:
    """Poll `what` until truthy (a deadline, never a bare sleep for sync)."""
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return got


def record_runs(settings: Settings, *, sequence: bool = True) -> list[str]:
    """Two runs of `refunder` through the real hooks (sequenced, checkpointed): one succeeds
    (a lookup, a refund that errors, a failed guardrail), one raises (a lookup). Spend: gpt-4o
    1000/100 and 2000/200 tokens at 2.50/10.00 USD per million = 0.0035 + 0.007 USD.
    `sequence=False` leaves the sequencing to a running `ledger serve`."""
    writer = configure(settings, sequence=sequence, sequence_interval=0.0)
    try:
        with ledger.run(agent="refunder", user="ann") as run:
            run.llm_call(model="gpt-4o", input_tokens=1000, output_tokens=100)
            run.tool_ended(run.tool_started("crm.lookup", {"id": 1}), result={"ok": True})
            run.tool_ended(run.tool_started("refund", {"usd": 5}), status="error",
                           error="card declined")
            run.guardrail("pii", "fail")
        try:
            with ledger.run(agent="refunder", user="bob") as failed:
                failed.llm_call(model="gpt-4o", input_tokens=2000, output_tokens=200)
                failed.tool_ended(failed.tool_started("crm.lookup", {"id": 2}), result=None)
                raise RuntimeError("model gave up")
        except RuntimeError:
            pass
        assert writer.flush()
    finally:
        shutdown()
    return [str(run.run_id), str(failed.run_id)]


def counters(got: Series) -> Series:
    """The `_total` series only (the backlog gauges move with timing)."""
    return {k: v for k, v in got.items() if k[0].endswith("_total")}


def ledger_samples(settings: Settings) -> list[Sample]:
    """What the metrics source would hold now, read afresh: the counters seeded from the log
    (exporters/metrics/state.py) and the database gauges (collector.db_samples)."""
    from exporters.metrics.collector import db_samples, state_samples
    from exporters.metrics.state import MetricsState

    state = MetricsState()
    with connect(settings) as conn:
        conn.autocommit = True
        state.seed(conn)
        return [*state_samples(state), *db_samples(conn)]


def as_series(samples: list[Sample]) -> Series:
    """Samples as {(exposed name, labels): value}, as series() reads a received request."""
    return {(s.exposed, frozenset(s.labels.items())): s.value for s in samples
            if s.kind != "histogram"}


def scraped(url: str) -> Series:
    """The counters of a Prometheus `/metrics` page (empty while it does not answer)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name.endswith("_total")}


def all_sequenced(settings: Settings) -> bool:
    """True when record_runs()'s events are all sequenced and checkpointed: the counters, read
    afresh from the log, are exactly EXPECTED."""
    return counters(as_series(ledger_samples(settings))) == EXPECTED


def attrs(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


#: what record_runs() adds to the metrics, exactly (the names of docs/metrics.md)
EXPECTED: Series = {
    ("agent_ledger_runs_total", attrs(agent="refunder", version="", status="succeeded")): 1.0,
    ("agent_ledger_runs_total", attrs(agent="refunder", version="", status="failed")): 1.0,
    ("agent_ledger_tool_calls_total", attrs(tool="crm.lookup", side_effect="true",
                                            outcome="ok")): 2.0,
    ("agent_ledger_tool_calls_total", attrs(tool="refund", side_effect="true",
                                            outcome="error")): 1.0,
    ("agent_ledger_spend_usd_total", attrs(agent="refunder")): 0.0105,
    ("agent_ledger_tokens_total", attrs(agent="refunder", direction="input")): 3000.0,
    ("agent_ledger_tokens_total", attrs(agent="refunder", direction="output")): 300.0,
}
