"""Without its extra, importing the OTel or MCP integration fails with one line naming it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCK = """
import sys

class Block:  # the framework is not installed
    def find_spec(self, name, path=None, target=None):
        if name == {top!r} or name.startswith({top!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Block())
try:
    import {module}
except ImportError as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize(("top", "module", "extra"), [
    ("mcp", "ledger.integrations.mcp", "mcp"),
    ("opentelemetry", "ledger.integrations.otel", "otel"),
])
def test_missing_extra_is_one_line(top: str, module: str, extra: str) -> None:
    code = textwrap.dedent(BLOCK.format(top=top, module=module))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, timeout=120).stdout
    assert out == f"MissingExtra {module} needs {top}: pip install 'agent-ledger[{extra}]'\n"
