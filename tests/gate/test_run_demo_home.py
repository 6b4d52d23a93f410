"""The shipped demo suite on a home where `ledger demo` ran (walk-through #1 of issue 19).

The demo publishes its pack (exporters/demo/policies/sales-support-v2.yaml), which registers
only sales-ops/v4, and the suite is `policy: must_pass`: the fixed prompt v6 fails every task on
`prompts.registered`, which is the gate doing its job (the release's prompt is not allowed by
the policy in force). docs/gate-run.md says so and ships the policy change that goes with the
release (docs/examples/gate/sales-support-v3.yaml): published, v6 passes. A fresh home (no pack
in force) is tests/gate/test_run.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger import hooks
from ledger.config import Settings
from replay.policy import load_pack_text
from replay.policy.published import publish_policy
from tests.gate.checkkit import run_cli
from tests.gate.test_run import shipped

ROOT = Path(__file__).resolve().parents[2]
DEMO_PACK = ROOT / "exporters" / "demo" / "policies" / "sales-support-v2.yaml"
RELEASE_PACK = ROOT / "docs" / "examples" / "gate" / "sales-support-v3.yaml"
pytestmark = pytest.mark.xdist_group("gate-demo")


def _publish(conn: psycopg.Connection, settings: Settings, path: Path) -> str:
    pack = load_pack_text(path.read_text(encoding="utf-8"), path.name)
    publish_policy(conn, settings, pack)
    return pack.policy_hash


def test_v6_fails_under_the_demo_pack_and_passes_with_the_release_pack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
) -> None:
    demo = _publish(ledger_conn, ledger_settings, DEMO_PACK)
    path = str(shipped(tmp_path, 1))

    def gate(label: str) -> tuple[int, dict[str, Any]]:
        try:
            res = run_cli(monkeypatch, capsys, ledger_settings, "gate", "run", path, "--label",
                          label, "--param", "prompt_version=v6", "--json", "--jobs", "2")
        finally:
            hooks.shutdown()
        return res.exit_code, json.loads(res.stdout)

    code, out = gate("v6-demo-pack")
    assert code == 1 and out["decision"] == "fail"
    assert {t["reasons"][0] for t in out["tasks"]} == {
        "attempt 1: policy: rule prompts.registered failed"}
    assert [v["policy_hash"] for v in out["versions"]] == [demo]
    release = _publish(ledger_conn, ledger_settings, RELEASE_PACK)
    code, out = gate("v6")
    assert code == 0 and out["decision"] == "pass", out["tasks"]
    assert [v["policy_hash"] for v in out["versions"]] == [release]
