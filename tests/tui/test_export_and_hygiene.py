"""Evidence export from the TUI (through exporters.bundle) and import hygiene of `ledger tui`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from textual.widgets import Input

from tests.tui.conftest import settle
from tests.tui.pilotkit import play, text_of


def test_export_screen_writes_a_bundle(
    seeded: dict[str, str], make_app: Any, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"

    async def scenario(pilot: Any) -> None:
        await pilot.press("e")
        await settle(pilot)
        pilot.app.screen.query_one("#export-out", Input).value = str(out)
        await pilot.press("ctrl+e")
        await settle(pilot)
        result = text_of(pilot, "#export-result")
        assert result.startswith(f"wrote {out}: "), result

    play(make_app(), scenario)
    assert any(out.iterdir())


def test_cli_module_does_not_import_textual() -> None:
    code = (
        "import sys, tui.cli; "
        "bad = [m for m in ('tui.app', 'textual') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
