"""Plug-in points, exercised through a real installed distribution (a `*.dist-info` on sys.path).

A higher layer (or a third party) extends the ledger by declaring entry points, never by being
imported from ledger/: commands (`agent_ledger.commands`), pre-call guards
(`agent_ledger.guards`) and `ledger serve` plug-ins (`agent_ledger.serve`). No mocks: the
distribution below is found by importlib.metadata exactly as a pip-installed one would be.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.errors import ExitCode
from ledger.hooks.guard import Decision, Guard, ProposedCall, decide, installed_guards
from ledger.plugins import PluginError
from ledger.serve import installed_plugins, serve
from tests.conftest import LEDGER_BIN

PLUGIN = '''
import threading
import typer

class NoBigRefunds:
    def check(self, call):
        from ledger.hooks.guard import Decision
        if call.tool == "refund" and int(call.args.get("amount_usd", 0)) > 100:
            return Decision.deny("refunds over $100 need an approval")
        return Decision.allow()

class Recorder:
    seen = []
    def start(self, context):
        Recorder.seen.append(("start", context.settings.origin))
        threading.Timer(0.3, context.stop.set).start()
    def stop(self):
        Recorder.seen.append(("stop", None))

app = typer.Typer(add_completion=False)

@app.command("hello")
def hello(name: str = "world") -> None:
    """Say hello from a plug-in."""
    typer.echo(f"hello {name}")

boom = typer.Typer(add_completion=False)

@boom.command("boom")
def explode() -> None:
    """Fail the way a bug does."""
    raise RuntimeError("kaput\\nsecond line")
'''

ENTRY_POINTS = """
[agent_ledger.guards]
no-big-refunds = ledger_test_plugin:NoBigRefunds

[agent_ledger.serve]
recorder = ledger_test_plugin:Recorder

[agent_ledger.commands]
hello = ledger_test_plugin:app
boom = ledger_test_plugin:boom
broken = ledger_test_plugin_missing:app
"""


@pytest.fixture
def distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install `ledger-test-plugin` the way pip lays it out, on sys.path for this test only."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "ledger_test_plugin.py").write_text(PLUGIN)
    info = site / "ledger_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ledger-test-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_registered_guard_decides_a_proposed_call(distribution: Path) -> None:
    guards = installed_guards()  # agent-ledger's own policy guard is always installed
    assert sorted(name for name, _ in guards) == ["no-big-refunds", "policy"]
    assert all(isinstance(g, Guard) for _, g in guards)
    run_id = uuid.uuid4()
    small = ProposedCall(run_id=run_id, tool="refund", args={"amount_usd": "20"})
    big = ProposedCall(run_id=run_id, tool="refund", args={"amount_usd": "450"})
    assert decide(guards, small).allowed
    assert decide(guards, big) == Decision.deny(
        "refunds over $100 need an approval", "no-big-refunds"
    )


def test_no_guard_installed_allows() -> None:
    assert [name for name, _ in installed_guards()] == ["policy"]  # agent-ledger's own
    assert decide([], ProposedCall(run_id=uuid.uuid4(), tool="t", args={})).allowed
    # the policy guard without a pack chosen for the run allows (nothing to enforce)
    assert decide(installed_guards(), ProposedCall(run_id=uuid.uuid4(), tool="t", args={})).allowed


def test_serve_starts_and_stops_its_plugins(
    distribution: Path, ledger_settings: Settings, ledger_conn: psycopg.Connection
) -> None:
    import ledger_test_plugin  # type: ignore[import-not-found]  # the installed plug-in

    # the circuit breakers (replay.policy.breakers), the metrics (exporters.metrics.plugin, idle
    # without --metrics-addr) and the OTLP push (exporters/otlp_serve.py, idle without
    # --otlp-endpoint) and the static tiles (ledger/tiles_plugin.py, idle without --tiles-dir)
    # are installed with the ledger itself
    plugins = installed_plugins()
    assert sorted(type(p).__name__ for p in plugins) == [
        "Breakers", "MetricsPlugin", "OtlpPlugin", "Recorder", "TilesPlugin"]
    worker = threading.Thread(
        target=serve, args=(ledger_conn, ledger_settings, None, 0.01, plugins)
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert ledger_test_plugin.Recorder.seen == [("start", ledger_settings.origin), ("stop", None)]


def _ledger(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [LEDGER_BIN, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_a_third_party_command_appears_and_runs(distribution: Path) -> None:
    listing = _ledger(distribution, "--help")
    assert listing.returncode == 0, listing.stderr
    assert "Say hello from a plug-in." in listing.stdout
    assert "(cannot be loaded: cannot load broken" in listing.stdout  # listed, not fatal
    assert _ledger(distribution, "hello", "--name", "dana").stdout == "hello dana\n"


def test_an_unexpected_exception_is_one_internal_error_line(distribution: Path) -> None:
    res = _ledger(distribution, "boom")
    assert res.returncode == ExitCode.INTERNAL
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("internal error: RuntimeError: kaput second line")
    assert "please report it" in lines[0] and "Traceback" not in res.stderr


def test_a_broken_entry_point_is_one_line(distribution: Path) -> None:
    res = _ledger(distribution, "broken")
    assert res.returncode == PluginError.exit_code
    assert res.stderr.startswith("error: cannot load broken = 'ledger_test_plugin_missing:app'")
    assert res.stderr.count("\n") == 1
