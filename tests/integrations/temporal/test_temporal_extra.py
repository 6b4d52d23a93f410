"""Without temporalio, importing the integration says in one line which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = ("import sys; sys.modules['temporalio'] = None\n"
        "try:\n    import {mod}\nexcept ImportError as e:\n    print(e)\n")


@pytest.mark.parametrize("mod", ["ledger.integrations.temporal", "replay.undo.temporal"])
def test_missing_extra_is_one_line_naming_it(mod: str) -> None:
    done = subprocess.run([sys.executable, "-c", CODE.format(mod=mod)], capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == (f"{mod} needs temporalio: "
                                   "pip install 'agent-ledger[temporal]'")
