"""What enforcement costs a run that is not enforced: nothing worth a person's wait.

A log whose packs are all `off` (the shipped guardrails file, every pack written before issue 16)
must not load the policy guard at run start: importing it builds cel-python's parser, most of a
second on the first run of every agent process (found by bench/bench_hooks.py's agents figure).
Checked in a fresh interpreter, where nothing has imported the guard yet.
"""

from __future__ import annotations

import subprocess
import sys

import psycopg

from ledger.config import Settings
from replay.policy import load_pack_text
from replay.policy.published import publish_policy

_AGENT = """
import sys, pathlib
import ledger, ledger.hooks as hooks
from ledger.config import Settings
hooks.configure(Settings.from_env(dsn=sys.argv[1], home=pathlib.Path(sys.argv[2])))
with ledger.run(agent="plain-bot") as run:
    run.custom("step")
ledger.flush(30)
print("guard loaded" if "replay.policy.guard" in sys.modules else "guard not loaded")
"""


def test_a_log_without_enforcing_packs_never_loads_the_guard(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    publish_policy(ledger_conn, ledger_settings,
                   load_pack_text("max_tool_calls: 3\n", "plain.yaml"))
    out = subprocess.run(
        [sys.executable, "-c", _AGENT, ledger_settings.dsn or "", str(ledger_settings.home)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "guard not loaded", out.stderr[-2000:]
