"""README screenshots are the TUI's snapshot renders; they must not drift from them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = next((REPO / "tests/tui/__snapshots__").iterdir())


@pytest.mark.parametrize(
    ("image", "snapshot"),
    [
        ("tui-board.svg", "test_board.raw"),
        ("tui-timeline.svg", "test_timeline_with_inspector.raw"),
        ("tui-undo.svg", "test_undo_plan.raw"),
    ],
)
def test_readme_screenshot_matches_the_tui_snapshot(image: str, snapshot: str) -> None:
    assert f"docs/img/{image}" in (REPO / "README.md").read_text()
    assert (REPO / "docs/img" / image).read_bytes() == (SNAPSHOTS / snapshot).read_bytes(), (
        f"copy {SNAPSHOTS / snapshot} to docs/img/{image} after updating the snapshot"
    )
