"""The witness cosignature of the exported end checkpoint, carried into the bundle.

Why: a log key alone can sign two different histories (a split view); a witness that cosigns
only consistent checkpoints (ledger/witness.py) is what rules that out, so its cosignature must
reach the auditor. The sequencer stores it in `ledger_cosigned` when a witness is configured;
the export copies the one for the end checkpoint as it is (log signature + cosignature line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from exporters.bundle_seal import file_entry
from exporters.bundle_trust import COSIGNED
from ledger.store.read import cosigned_note

__all__ = ["write_cosigned"]


def write_cosigned(
    conn: psycopg.Connection, out: Path, origin: str, end_size: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Write the cosigned end checkpoint if the witness cosigned it: (file entries, its path)."""
    note = cosigned_note(conn, origin, end_size) if end_size else None
    if note is None:
        return [], None
    (out / COSIGNED).write_text(note, encoding="utf-8")
    return [file_entry(out, COSIGNED, "text/plain")], COSIGNED
