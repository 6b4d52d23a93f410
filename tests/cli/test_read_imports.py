"""Read commands load only what they use (issue 18: every read within 0.5 s, timed in bench/).

The figures are bench/bench_cli.py's; what is pinned here is their cause, per command, in a
real process against a real ledger: `runs`, `stops`, `show` and `db status` build no pydantic
(Typer's coercion is deferred, ledger/cli/coerce.py) and no event models; `replay` and `check`
on a pack without CEL rules import no celpy, and with no identity token recorded no joserfc or
cryptography; and the stop writer (ledger.stops, with its authority stack) is not loaded
to list stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from replay.policy import load_pack_text
from replay.policy.published import publish_policy
from tests.ledgerkit import append, chained_run

pytestmark = pytest.mark.xdist_group("read_imports")

_PROBE = """
import json, sys
sys.argv = ["ledger", *sys.argv[1:]]
from ledger.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
PACK = "policy: {id: plain, version: '1'}\ntools: {allow: [t0, t1]}\n"
ENGINE_ONLY = ("celpy", "lark", "joserfc", "cryptography")


def _loaded(settings: Settings, *args: str) -> tuple[int, set[str]]:
    env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return int(report["code"] or 0), set(report["modules"])


def _tops(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names)


def test_listing_commands_build_no_pydantic_and_no_event_models(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    run = chained_run(2)
    append(ledger_conn, ledger_settings, run)
    for args in (["runs"], ["stops"], ["show", str(run[0].run_id)], ["db", "status"]):
        code, modules = _loaded(ledger_settings, *args)
        assert code == 0, args
        assert _tops(modules, ("pydantic", *ENGINE_ONLY)) == [], args
        assert "ledger.events" not in modules and "ledger.stops" not in modules, args


def test_replay_and_check_without_cel_or_tokens_load_no_cel_or_jose(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    run = chained_run(2)
    append(ledger_conn, ledger_settings, run)
    publish_policy(ledger_conn, ledger_settings, load_pack_text(PACK, "p.yaml"))
    for args in (["replay", str(run[0].run_id)], ["check"]):
        code, modules = _loaded(ledger_settings, *args)
        assert code in (0, 1), args
        assert _tops(modules, ENGINE_ONLY) == [], args
        assert "ledger.events" not in modules, args
