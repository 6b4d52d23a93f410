"""Who has approved a plan digest so far, as recorded: a read for the second terminal.

Why a module of its own: the TUI shows this in `--readonly` sessions too, and those must never
import a write API (replay.undo.approvals records events); this module only reads the log.
Judging the approvals (registry, signature, separation of duties) is apply's job.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ledger.config import Settings
from ledger.events import decode_event
from ledger.store import read

__all__ = ["recorded_approvers"]


def recorded_approvers(
    conn: psycopg.Connection, settings: Settings, plan_digest: str
) -> tuple[str, ...]:
    """Who recorded an `undo.plan.approved` of this digest, in log order, once each."""
    names: list[str] = []
    for _, body in read.events_of_types(conn, settings.origin(), ["undo.plan.approved"]):
        data: Any = decode_event(body).data
        if data.plan_digest == plan_digest and data.approver is not None:
            names.append(data.approver.id)
    return tuple(dict.fromkeys(names))
