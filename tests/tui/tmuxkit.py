"""A ready demo home with its own embedded PostgreSQL, copied per test, and tmux helpers.

Why a copy per test: the live tests start `ledger tui` from a *cold* embedded server, so each
needs a data directory no server runs on. Building one (initdb, migrations, the incident) costs
seconds; copying the stopped one costs a fraction of that. Every copy's server is stopped (and
its watchdog killed) when the test ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.db.embedded import embedded_status, stop_embedded
from ledger.scenarios import incident_events
from tests.conftest import LEDGER_BIN
from tests.ledgerkit import append
from tests.tui.conftest import quiet_run

__all__ = ["cold_home", "demo_template", "keys", "screen", "tmux_tui", "wait_for", "write_run"]


@pytest.fixture(scope="session")
def demo_template() -> Iterator[Path]:
    """A home holding the incident run, its embedded server stopped (built once per worker).

    Outside pytest's temp dirs (as tests/conftest.py's server): those are private to the
    user, and as root the server runs as another user that must reach its data directory.
    """
    top = Path(tempfile.mkdtemp(prefix="ledger-tui-demo-"))
    settings = Settings(home=top / "home")
    try:
        with connect(settings, migrate=True) as conn:
            append(conn, settings, incident_events())
        stop_embedded(settings.pgdata)
        yield settings.home
    finally:
        stop_embedded(settings.pgdata)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def cold_home(demo_template: Path) -> Iterator[Path]:
    """A private copy of the demo home, no server running on it; its server stopped after."""
    top = Path(tempfile.mkdtemp(prefix="ledger-tui-cold-"))
    home = top / "home"
    # cp -a keeps the owners: as root the server runs as embedded_postgres and owns its files
    subprocess.run(["cp", "-a", str(demo_template), str(home)], check=True)
    assert not embedded_status(home / "pgdata").running
    try:
        yield home
    finally:
        stop_embedded(home / "pgdata")
        shutil.rmtree(top, ignore_errors=True)


def write_run(home: Path, name: str) -> str:
    """Append a run ("ops-agent") through the real write path, as another process would."""
    settings = Settings(home=home)
    events = quiet_run(name=name)
    with connect(settings, migrate=True) as conn:
        append(conn, settings, events)
    return str(events[0].run_id)


def tmux_tui(home: Path, size: tuple[int, int], *args: str) -> Iterator[str]:
    """`ledger tui` on `home` in a detached tmux session of `size`; the session is killed after."""
    name = f"tui-{uuid.uuid4().hex[:8]}"
    env = {"LEDGER_HOME": str(home), "TERM": "xterm-256color", "LEDGER_DSN": ""}
    exports = " ".join(f"{k}={v!r}" for k, v in env.items())
    cmd = " ".join(repr(part) for part in [LEDGER_BIN, "tui", *args])
    width, height = size
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
         f"cd {os.getcwd()!r} && env {exports} {cmd}; sleep 60"],
        check=True,
    )  # fmt: skip
    try:
        yield name
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)


def screen(name: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True, check=True
    ).stdout


def wait_for(name: str, ok: Callable[[str], bool], what: str, seconds: float = 30.0) -> str:
    """Poll the pane until `ok(screen)` (an external process: there is no event to await)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shown = screen(name)
        if ok(shown):
            return shown
        time.sleep(0.05)
    raise AssertionError(f"{what} never appeared; screen was:\n{screen(name)}")


def keys(name: str, *sequence: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", name, *sequence], check=True)
