"""Issue 18 item 5: an exercise tenant's evidence bundle carries its after-action report
(`exercise/aar.md`, listed in the manifest, verified with the rest), the same document as
`ledger exercise report NAME`; a name never played is a usage error, not an empty report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from exporters.bundle import ExportParams, export_bundle
from exporters.bundle_exercise import AAR_PATH
from exporters.bundle_verify import verify_bundle
from ledger.config import Settings
from ledger.event_exercise import (
    ExerciseAnsweredData,
    ExerciseFindingData,
    ExerciseRatedData,
    ExerciseStartedData,
    Participant,
)
from ledger.exercises_write import record_event
from tests.exporters.conftest import SINCE, UNTIL

RECORD: list[tuple[str, Any]] = [
    ("exercise.started", ExerciseStartedData(
        name="drill", title="Refund drill", file_sha256="ab" * 32, facilitator="dana",
        participants=(Participant(role="incident commander", person="Dana"),),
        objectives=("Trace the refund", "Stop the agent"), questions=("Who may stop it?",),
    )),
    ("exercise.answered", ExerciseAnsweredData(
        milestone="trace", answered_by="alice", elapsed_ms=95_000, recorded_by="dana",
    )),
    ("exercise.rated", ExerciseRatedData(objective=1, rating="M", rated_by="dana")),
    ("exercise.finding", ExerciseFindingData(
        kind="action", text="stop runbook", objective=1, owner="farid", due="2026-02-15",
        recorded_by="dana",
    )),
]  # fmt: skip


def test_exercise_bundle_contains_the_report(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path, cli: Any
) -> None:
    for n, (kind, data) in enumerate(RECORD):
        occurred = f"2026-01-15T10:00:{n:02d}.000000000Z"
        record_event(ledger_conn, ledger_settings, "drill", kind, data, who="dana",
                     occurred_at=occurred)  # fmt: skip
    out = tmp_path / "bundle"
    export_bundle(ledger_conn, ledger_settings, ExportParams(
        since=SINCE, until=UNTIL, out=out, tenant="exercise-drill", record=False,
    ))  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert AAR_PATH in {f["path"] for f in manifest["files"]}
    assert verify_bundle(out, None).valid
    report = (out / AAR_PATH).read_text()
    assert "| 2. Stop the agent |  |  | X |  |" in report
    assert "| time-to-trace | T+95s | alice | - | - |" in report
    assert "| 2. Stop the agent | stop runbook | farid | 2026-02-15 |" in report
    done = cli("exercise", "report", "drill", "-o", str(tmp_path / "aar.md"))
    assert done.exit_code == 0, done.stderr
    assert (tmp_path / "aar.md").read_text() == report  # one builder: CLI and bundle agree
    missing = cli("exercise", "report", "nodrill")
    assert (missing.exit_code, missing.stdout) == (2, "")
    assert missing.stderr.strip().splitlines() == [
        "error: no exercise 'nodrill' recorded in the ledger (tenant exercise-nodrill): "
        "play it first with ledger tui --exercise FILE"
    ]
