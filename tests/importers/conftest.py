"""A real Phoenix server for the importer tests: one per test session, on loopback.

Phoenix runs from tests/envs/phoenix (its own locked uv project: the server pins its own
dependencies). Started with a temporary working dir, free ports and telemetry off; no network.
Missing env: the tests fail saying how to build it, never skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port as _free_port

ENV = Path(__file__).resolve().parents[1] / "envs" / "phoenix"
PYTHON = ENV / ".venv" / "bin" / "python"
PHOENIX = ENV / ".venv" / "bin" / "phoenix"
START_DEADLINE_S = 180.0  # importing the server takes ~45 s on a busy 2-core machine


@dataclass(frozen=True)
class PhoenixServer:
    url: str
    project: str
    traces: dict[str, str]  # user -> trace id of the scripted agent's run for that user




def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while not _healthy(url):
        if proc.poll() is not None:
            pytest.fail(f"phoenix serve exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"phoenix serve not healthy after {START_DEADLINE_S} s:\n"
                        f"{log.read_text()[-2000:]}")
        time.sleep(0.2)


SPANS_SENT = 8  # send_traces.py: 2 runs x (agent, model, refund, model)


def _stored(url: str, project: str, count: int) -> None:
    """Phoenix inserts received spans in the background: poll until all are queryable."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/v1/projects/{project}/spans?limit=100",
                                        timeout=5) as response:
                if len(json.loads(response.read())["data"]) >= count:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"Phoenix did not store the {count} spans sent within 60 s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def phoenix_server() -> Iterator[PhoenixServer]:
    """`phoenix serve` with the scripted agent's traces already sent (project `support`)."""
    if not PHOENIX.exists():
        pytest.fail("the Phoenix test env is missing: build it with "
                    "`make tests/envs/phoenix/.venv/.synced` (or `make test`)")
    work = Path(tempfile.mkdtemp(prefix="ledger-phoenix-"))
    port = _free_port()
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(work), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(_free_port()),
           "PHOENIX_TELEMETRY_ENABLED": "false", "DO_NOT_TRACK": "1",
           "OTEL_SDK_DISABLED": "false", "NO_PROXY": "*"}
    log = work / "phoenix.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(PHOENIX), "serve"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(proc, url, log)
        sent = subprocess.run([str(PYTHON), str(ENV / "send_traces.py"), f"{url}/v1/traces",
                               "support"], capture_output=True, timeout=120, check=False)
        assert sent.returncode == 0, sent.stderr.decode()[-2000:]
        _stored(url, "support", SPANS_SENT)
        yield PhoenixServer(url, "support", json.loads(sent.stdout))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
