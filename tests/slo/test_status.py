"""Contract 7's read-side: `objectives_met` (for `ledger versions`) and `sli_gauges` (for
`/metrics`), on runs recorded through the real hooks."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.event_gate import GateVersions
from ledger.hooks.writer import Writer
from ledger.store.sequencer import try_sequence
from replay.slo.gauges import sli_gauges
from replay.slo.status import SLO_FILE_ENV, objectives_met

from .conftest import record_runs


def test_objectives_met_per_version_and_gauges(
        ledger_conn: psycopg.Connection, ledger_settings: Settings, writer: Writer,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record_runs("sales/v4", ok=4, failed=0)
    record_runs("sales/v5", ok=1, failed=3)
    writer.flush(10)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    v4 = GateVersions(agent="sales", agent_version="1.0", prompt_version="sales/v4",
                      model="gpt-4o-mini")
    v5 = v4.model_copy(update={"prompt_version": "sales/v5"})
    v6 = v4.model_copy(update={"prompt_version": "sales/v6"})
    monkeypatch.delenv(SLO_FILE_ENV, raising=False)
    assert objectives_met(ledger_conn, ledger_settings, agent="sales", versions=v4) is None
    slo = tmp_path / "slo.yaml"
    slo.write_text("objectives:\n  - {sli: task_completion, target: 0.9, window: 30d}\n")
    monkeypatch.setenv(SLO_FILE_ENV, str(slo))
    assert objectives_met(ledger_conn, ledger_settings, agent="sales", versions=v4) is True
    assert objectives_met(ledger_conn, ledger_settings, agent="sales", versions=v5) is False
    assert objectives_met(ledger_conn, ledger_settings, agent="sales", versions=v6) is None

    gauges = {(g.name, g.labels["version"]): g for g in sli_gauges(ledger_conn, ledger_settings)}
    done = gauges[("task_completion", "v1.0 prompt=sales/v5 model=gpt-4o-mini")]
    assert done.labels == {"agent": "sales", "version": "v1.0 prompt=sales/v5 model=gpt-4o-mini"}
    assert done.value == pytest.approx(0.25)
    assert ("policy_compliance", "v1.0 prompt=sales/v4 model=gpt-4o-mini") not in gauges  # unknown
