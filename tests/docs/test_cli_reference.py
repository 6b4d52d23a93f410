"""docs/cli.md must equal what `docs/gen_cli.py` generates now, so the reference never lies.

The README and docs point at docs/cli.md for flags; this test regenerates it in memory from the
real CLI and fails with the command to run when a command or option changed without it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
FIX = "run `.venv/bin/python docs/gen_cli.py` and commit docs/cli.md"


def _gen_cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli", ROOT / "docs" / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_cli"] = module
    spec.loader.exec_module(module)
    return module


GEN = _gen_cli()


def test_cli_reference_is_up_to_date() -> None:
    expected = GEN.render()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, f"docs/cli.md is stale: {FIX}"


def test_reference_covers_every_registered_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    paths = GEN.command_paths()
    assert len(paths) > 10
    for path in paths:
        assert f"\n## {' '.join(('ledger', *path))}\n" in text, f"missing {path}: {FIX}"


def test_in_process_rendering_equals_the_real_ledger_process() -> None:
    """The generator renders all pages in one process; spot-check against the real script."""
    texts = GEN.all_help_texts()
    paths = GEN.command_paths()
    for path in (paths[0], paths[-1]):
        assert GEN.help_text(path) == texts[paths.index(path)]
