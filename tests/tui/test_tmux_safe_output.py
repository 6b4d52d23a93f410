"""Issue 15 item 6 in a real terminal: the hostile corpus (tests/safe_corpus.py) printed by
`ledger show` and `ledger runs`, then the board of `ledger tui`, inside tmux.

What the Pilot and capture tests cannot see is what a terminal *does* with a byte: this one
asserts the effects. The screen is not cleared (a line printed before is still there), the
window title is not set, nothing reaches the clipboard (tmux keeps OSC 52 in its paste buffers),
and the TUI draws the agent name literally and keeps running.
Skipped (with the reason) when tmux is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.config import Settings
from tests.conftest import LEDGER_BIN
from tests.safe_corpus import RUN, jsonl

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
)


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


@pytest.fixture
def shell(ledger_settings: Settings, cli: Any) -> Iterator[str]:
    """A tmux pane running a shell on the ledger where the hostile run was ingested."""
    assert cli("ingest", "-", input=jsonl()).exit_code == 0
    name = f"safe-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "LEDGER_DSN": ledger_settings.dsn or "",
        "LEDGER_HOME": str(ledger_settings.home),
        "TERM": "xterm-256color",
        "PS1": "$ ",
    }
    # its own server socket: the paste buffers and titles checked are this test's only
    socket = ["-L", name]
    subprocess.run(
        ["tmux", *socket, "new-session", "-d", "-s", name, "-x", "160", "-y", "45", "sh"],
        check=True,
        env=env,
    )
    subprocess.run(["tmux", *socket, "set-option", "-g", "set-clipboard", "on"], check=True)
    yield name
    subprocess.run(["tmux", *socket, "kill-server"], check=False, capture_output=True)


def _run(name: str, line: str) -> None:
    subprocess.run(["tmux", "-L", name, "send-keys", "-t", name, "-l", line], check=True)
    subprocess.run(["tmux", "-L", name, "send-keys", "-t", name, "Enter"], check=True)


def test_the_corpus_has_no_effect_on_a_real_terminal(shell: str) -> None:
    bin_ = LEDGER_BIN
    # the marks are typed split ('' joins them) so only the shell's output contains them whole
    _run(shell, f"echo BEFORE''-MARK; {bin_} show {RUN}; {bin_} runs; echo AFTER''-MARK")
    shown = _wait(shell, "AFTER-MARK", history=True)
    assert "BEFORE-MARK" in shown  # no clear screen reached the terminal
    assert "\\x1b[2J" in shown  # shown escaped, not dropped
    title = _tmux("-L", shell, "display-message", "-p", "-t", shell, "#{pane_title}")
    assert "pwned" not in title
    assert "rm -rf" not in _tmux("-L", shell, "show-buffer")  # OSC 52 never reached tmux
    _run(shell, f"{bin_} tui --readonly")
    board = _wait(shell, "[red]x[/red]")  # the agent name, markup shown literally
    assert "pwned" not in _tmux("-L", shell, "display-message", "-p", "-t", shell, "#{pane_title}")
    assert "Traceback" not in board
    _quit(shell)  # it is still running: nothing crashed it


def _quit(name: str, seconds: float = 30.0) -> None:
    """Press q until the pane's process is the shell again (the app may still be starting)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        current = _tmux("-L", name, "display-message", "-p", "-t", name, "#{pane_current_command}")
        if current.strip() == "sh":
            return
        _keys(name, "q")
        time.sleep(0.5)
    raise AssertionError(f"ledger tui did not quit on q; screen was:\n{_screen(name)}")


def _screen(name: str, history: bool = False) -> str:
    since = ["-S", "-"] if history else []  # the scrollback too: show's output is long
    return subprocess.run(
        ["tmux", "-L", name, "capture-pane", "-p", *since, "-t", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _keys(name: str, *sequence: str) -> None:
    subprocess.run(["tmux", "-L", name, "send-keys", "-t", name, *sequence], check=True)


def _wait(name: str, text: str, seconds: float = 30.0, *, history: bool = False) -> str:
    """Poll the pane until `text` appears (an external process: no event to await)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shown = _screen(name, history)
        if text in shown:
            return shown
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{_screen(name)}")

