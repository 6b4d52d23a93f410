"""`ledger serve` ends runs suspended for too long as `abandoned` (issue 17).

A suspended run is open and waiting for a person or a workflow. One nobody resumes would stay
open forever, and an investigator could not tell a run still waiting from one forgotten. So
the sequencer process, which already owns the suspended-run table (ledger/store/continuity),
ends every run idle there longer than `LEDGER_ABANDON_AFTER` (default 7 days; `--abandon-after`)
with a `run.ended` of status `abandoned` that continues the run's chain: head + 1, the head's
leaf hash, the event count of the whole run and the totals of its last suspension. Idle time is
measured by the ledger's own clock (when the suspension was sequenced), never by the writer's
claimed `occurred_at`. A run resumed meanwhile wins: the sequencer rejects whichever of its
`run.resumed` and this `run.ended` comes second as a chain conflict.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.events import make_event
from ledger.merkle import leaf_hash
from ledger.store.append import submit

__all__ = ["ABANDON_AFTER_ENV", "DEFAULT_ABANDON_AFTER", "Abandoner", "abandon_after",
           "abandon_idle"]

log = logging.getLogger("ledger.serve")
ABANDON_AFTER_ENV = "LEDGER_ABANDON_AFTER"
DEFAULT_ABANDON_AFTER = "7d"
_BATCH = 500


def abandon_after(text: str | None = None) -> float:
    """Seconds a suspended run may stay idle: `text`, else $LEDGER_ABANDON_AFTER, else 7 days.
    A plain number is seconds; else a span such as 12h or 7d (ledger.when.parse_duration)."""
    from ledger.when import parse_duration

    value = (text or os.environ.get(ABANDON_AFTER_ENV) or DEFAULT_ABANDON_AFTER).strip()
    try:
        seconds = float(value)
    except ValueError:
        return parse_duration(value, ABANDON_AFTER_ENV).total_seconds()
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{ABANDON_AFTER_ENV} {value!r} must be a positive number of seconds")
    return seconds


def _ended(run_id: uuid.UUID, row: tuple[Any, ...]) -> Any:
    """The `run.ended` (abandoned) continuing run `run_id` from its resume point."""
    _, head_seq, leaf, head_body, started_body, suspended_body = row
    started = json.loads(bytes(started_body))
    suspended = json.loads(bytes(suspended_body)) if suspended_body is not None else {}
    prev = (bytes(leaf) if leaf is not None else leaf_hash(bytes(head_body))).hex()
    envelope = {k: started[k] for k in ("tenant", "environment", "principal", "agent",
                                        "versions") if k in started}
    totals = (suspended.get("data") or {}).get("totals") or {}
    return make_event(
        "run.ended", run_id=run_id, run_seq=int(head_seq) + 1, prev_run_hash=prev,
        source={"framework": "ledger", "integration": "serve"}, **envelope,
        data={"status": "abandoned", "event_count": int(head_seq) + 2, "last_hash": prev,
              "totals": totals})


def _event_id(body: bytes) -> str | None:
    """The event id a head body claims; None for bytes that are not an event (a hostile
    writer's row in intake, which the sequencer will reject)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    value = doc.get("event_id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def abandon_idle(conn: psycopg.Connection, settings: Settings, idle_seconds: float,
                 now: datetime | None = None) -> list[uuid.UUID]:
    """Submit an abandoned `run.ended` for each run suspended before now - `idle_seconds`
    whose head is still that suspension; returns their run ids (sequenced by the next batch)."""
    before = (now or datetime.now(UTC)) - timedelta(seconds=idle_seconds)
    rows = conn.execute(query("continuity_idle_suspended"),
                        {"before": before, "limit": _BATCH}).fetchall()
    events, ended = [], []
    for run_id, _origin, suspended_event in rows:
        try:  # one run's bytes (its head may be a writer's garbage in intake) stop only it
            point = conn.execute(query("continuity_resume_point"),
                                 {"run_id": run_id}).fetchone()
            if point is None or _event_id(bytes(point[3])) != str(suspended_event):
                continue  # resumed (still in intake), gone, or a head not yet judged: not idle
            events.append(_ended(run_id, point))
        except (psycopg.Error, ValueError, TypeError, AttributeError) as exc:
            log.warning("ledger serve: cannot end suspended run %s: %s", run_id,
                        type(exc).__name__)
            continue
        ended.append(run_id)
    if events:
        submit(conn, events, settings)
    return ended


class Abandoner:
    """The periodic check inside the serve loop: at most every `interval` seconds."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self.interval = min(60.0, max(0.05, idle_seconds / 4))
        self._next = 0.0

    def tick(self, conn: psycopg.Connection, settings: Settings) -> int:
        """Abandon what is due (when the interval has passed); how many runs were ended."""
        now = time.monotonic()
        if now < self._next:
            return 0
        self._next = now + self.interval
        try:
            ended = abandon_idle(conn, settings, self.idle_seconds)
        except psycopg.Error as exc:  # the sequencer goes on; the next tick tries again
            log.warning("ledger serve: could not end abandoned runs: %s", exc)
            return 0
        if ended:
            log.info("ledger serve: ended %d abandoned run(s)", len(ended))
        return len(ended)
