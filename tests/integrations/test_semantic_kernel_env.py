"""The Semantic Kernel integration's tests, run in their own locked environment.

semantic-kernel pins mcp<2 and pydantic<2.14, which the main lock cannot take, so its tests
live in tests/envs/sk (own uv project and lock; the repo as an editable path dependency) and
run there, against this session's database server and migrated template. Never skipped: an
unbuilt environment is a failure that says how to build it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = ROOT / "tests" / "envs" / "sk"
PYTHON = ENV / ".venv" / "bin" / "python"
MIN_TESTS = 8  # the env's own tests (other slices add theirs: more is fine)


@pytest.mark.slow
def test_semantic_kernel_environment_passes(pg_admin_dsn: str, template_db: str) -> None:
    assert PYTHON.exists() and (ENV / ".venv" / ".synced").exists(), (
        "the Semantic Kernel test environment is not built: run "
        "`make tests/envs/sk/.venv/.synced` (make test builds it)")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LEDGER_", "PYTEST_", "VIRTUAL_ENV"))}
    env |= {"LEDGER_TEST_DSN": pg_admin_dsn, "LEDGER_TEST_TEMPLATE": template_db}
    proc = subprocess.run(
        [str(PYTHON), "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-rfEs"],
        cwd=ENV, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    summary = re.search(r"(\d+) passed", out)
    assert summary and int(summary.group(1)) >= MIN_TESTS, out[-3000:]
    assert not re.search(r"\d+ (failed|skipped|error)", out), out[-3000:]
