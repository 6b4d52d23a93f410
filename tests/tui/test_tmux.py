"""Drive the real `ledger tui` in tmux through one incident: board -> timeline -> trace -> stop.

Skipped (with the reason) when tmux is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ledger.config import Settings
from tests.conftest import LEDGER_BIN

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
)

@pytest.fixture
def tmux(ledger_settings: Settings) -> Iterator[str]:
    name = f"tui-{uuid.uuid4().hex[:8]}"
    env = {
        "LEDGER_DSN": ledger_settings.dsn or "",
        "LEDGER_HOME": str(ledger_settings.home),
        "TERM": "xterm-256color",
    }
    exports = " ".join(f"{k}={v!r}" for k, v in env.items())
    cmd = " ".join(repr(part) for part in [LEDGER_BIN, "tui", "--as", "dana"])
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "160",
            "-y",
            "40",
            f"cd {os.getcwd()!r} && env {exports} {cmd}",
        ],
        check=True,
    )
    yield name
    subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)


def screen(name: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True, check=True
    ).stdout


def wait_for(name: str, text: str, seconds: float = 30.0) -> str:
    """Poll the pane until `text` appears (an external process: there is no event to await)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shown = screen(name)
        if text in shown:
            return shown
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen(name)}")


def keys(name: str, *sequence: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", name, *sequence], check=True)


def test_incident_walkthrough_in_a_real_terminal(
    seeded: dict[str, str], ledger_conn: psycopg.Connection, tmux: str
) -> None:
    wait_for(tmux, "support-agent")
    keys(tmux, "Down", "Enter")
    wait_for(tmux, "12 events")
    keys(tmux, "Down", "Down", "Down", "Down")
    wait_for(tmux, "ok: prev_run_hash = leaf of run_seq 3")
    # the proof line is asserted by the Pilot tests; in a small pane it sits below the fold
    keys(tmux, "S")
    wait_for(tmux, "run chain intact")
    keys(tmux, "2")
    wait_for(tmux, "asserted, no registry")  # who may stop: the registry's word, none given
    wait_for(tmux, "type the reason, then")  # the hint wraps in a small pane
    keys(tmux, "-l", "prompt injection")
    keys(tmux, "Enter")
    wait_for(tmux, "now type STOP")
    keys(tmux, "-l", "STOP")
    keys(tmux, "Enter")
    wait_for(tmux, "run.stop.requested recorded")
    keys(tmux, "y")
    wait_for(tmux, "payments.refund")
    keys(tmux, "q")
    rows = ledger_conn.execute(
        "SELECT convert_from(body, 'UTF8')::jsonb #>> '{data,requested_by}' FROM ledger_events "
        "WHERE type = 'run.stop.requested'"
    ).fetchall()
    assert rows == [("dana",)]
