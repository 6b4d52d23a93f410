"""The documented quick start on a brand-new LEDGER_HOME (issue 18, "the fresh-home bug").

Why this test exists: the run's pack pin reads the read API before the writer's first write
has migrated the fresh embedded database; the read failed ("function ledger_live_version() does
not exist"), was taken for "the ledger is unreachable", and the very first side-effecting tool
call of a new user was refused. Real processes, a real embedded server of the new home (no
LEDGER_DSN), the docs' own example.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.db.embedded import stop_embedded
from ledger.store.read import run_events
from tests.conftest import LEDGER_BIN, REPO

QUICK_START = re.findall(
    r"```python\n(.*?)```", (REPO / "docs" / "hooks.md").read_text(encoding="utf-8"), flags=re.S
)[0]


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DSN"}
    env["LEDGER_HOME"] = str(home)
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=120, check=False, cwd=REPO
    )


def test_the_quick_start_records_its_first_tool_call_on_a_new_home(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    try:
        agent = _run([sys.executable, "-c", QUICK_START], home)
        assert agent.returncode == 0, agent.stderr
        assert agent.stdout == "refunded 19.90 on 42\n"
        assert "cannot confirm the pack" not in agent.stderr
        check = _run([LEDGER_BIN, "check", "--json"], home)
        assert check.returncode == 0, check.stderr
        (run,) = json.loads(check.stdout)["runs"]
        with connect(Settings(home=home)) as conn:  # the new home's own embedded server
            kinds = [json.loads(e.body)["type"] for e in run_events(conn, UUID(run["run_id"]))]
        assert kinds.count("tool.call.started") == kinds.count("tool.call.ended") == 1
    finally:
        stop_embedded(home / "pgdata")
