"""The after-action report of a tabletop exercise, in the evidence bundle of its tenant.

Why: an exercise's record is SOC 2 CC7.4 / CC7.5 evidence (incident response tested), and an
auditor reads the AAR/IP next to the hash-chained events it was built from. A bundle of an
exercise tenant (`exercise-<name>`) therefore carries `exercise/aar.md`, built by
exporters.aar from the same ledger record (so it matches `ledger exercise report NAME`), listed
in the manifest like every file. Bundles of other tenants are unchanged; an exercise tenant
with no `exercise.started` (nothing to report) gets no report rather than an empty one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from exporters.aar import aar_markdown
from exporters.bundle_seal import file_entry
from ledger.config import Settings
from ledger.exercises import EXERCISE_PREFIX, load_record

__all__ = ["AAR_PATH", "exercise_files"]

AAR_PATH = "exercise/aar.md"


def exercise_files(
    conn: psycopg.Connection, settings: Settings, out: Path, origin: str
) -> list[dict[str, Any]]:
    """Write `exercise/aar.md` when `origin` is an exercise's log; its manifest entry."""
    tenant = origin.rsplit("/", 1)[-1]
    if not tenant.startswith(EXERCISE_PREFIX):
        return []
    record = load_record(conn, settings, tenant.removeprefix(EXERCISE_PREFIX))
    if record.started is None:
        return []
    (out / "exercise").mkdir(exist_ok=True)
    (out / AAR_PATH).write_text(aar_markdown(record), encoding="utf-8")
    return [file_entry(out, AAR_PATH, "text/markdown")]
