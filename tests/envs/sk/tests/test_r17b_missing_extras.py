"""Using an integration without its extra gives one line naming the extra (docs: "Optional
frameworks"). This environment really lacks the OpenAI Agents SDK and LangChain/LangGraph
(semantic-kernel's own environment), so a user's `from ledger.integrations.X import ...` here is
exactly what a user without the extra sees."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    ("openai_agents", "LedgerRunHooks", "openai-agents"),
    ("langchain", "LedgerCallbackHandler", "langgraph"),
]


@pytest.mark.parametrize(("module", "name", "extra"), CASES)
def test_an_integration_without_its_extra_names_the_extra(module: str, name: str,
                                                           extra: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", f"from ledger.integrations.{module} import {name}"],
        capture_output=True, text=True, check=False)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert f"ledger.integrations.{module} needs " in last, last
    assert last.endswith(f"pip install 'agent-ledger[{extra}]'"), last
