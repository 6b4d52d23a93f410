"""`ledger tui` opens loaded and live, every time, from a cold embedded server (issue 18 item 1).

Ten starts in a real terminal (tmux), five at 80x24 and five at 160x48, each on its own copy of
a demo home whose server is stopped: the board must show its runs and its chain line (not
"loading…"), the header must say `live`, the footer must offer `r` (refresh), and a run
appended by another process must appear without a key being pressed. Skipped (with the reason)
when tmux is not installed; CI installs it (.ci/run).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.tmuxkit import cold_home, demo_template, tmux_tui, wait_for, write_run

__all__ = ["cold_home", "demo_template"]  # fixtures used below

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
)

SIZES = [(80, 24)] * 5 + [(160, 48)] * 5


@pytest.fixture(params=SIZES, ids=[f"{w}x{h}-{i % 5}" for i, (w, h) in enumerate(SIZES)])
def started(request: pytest.FixtureRequest, cold_home: Path) -> Iterator[tuple[str, Path]]:
    yield from ((name, cold_home) for name in tmux_tui(cold_home, request.param, "--as", "dana"))


def loaded(shown: str) -> bool:
    """The board with its runs, its chain line and the live mark (live updates on)."""
    return (
        "support-agent" in shown
        and "default: 12 events" in shown
        and "loading" not in shown
        and "agent-ledger — live" in shown
    )


def footer(shown: str) -> str:
    lines = shown.rstrip("\n").splitlines()
    return lines[-1] if lines else ""


def test_tui_opens_loaded_and_live_from_a_cold_server(started: tuple[str, Path]) -> None:
    name, home = started
    # the footer offers refresh, even at 80 columns (waited for: a capture may fall mid-frame)
    shown = wait_for(name, lambda s: loaded(s) and "r Refresh" in footer(s), "the live board")
    assert "Error" not in shown and "Traceback" not in shown
    write_run(home, "appended-live")
    after = wait_for(name, lambda s: "ops-agent" in s, "the run appended by another process")
    assert "default: 15 events" in after
    assert "runs 2/2" in after
