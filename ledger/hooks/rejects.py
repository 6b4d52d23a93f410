"""Sequencer rejects reported back to the hooks' writer: an acknowledged event is never lost in
silence (issue 15 item 3).

A receipt means "durable in intake". The sequencer may still reject the event (content it
cannot store, a chain conflict, another tenant's run): it goes to `ledger_rejects`, not to the
log. The writer keeps the ids it submitted and, after each sequencing pass or flush, asks where
they are (`ledger.store.read.receipt_states`): logged ids are forgotten, pending ones kept, and
an id that is neither was rejected. For each the agent developer gets a WARNING on the
`ledger.hooks` logger with the reason (terminal controls escaped), a count in
`Writer.stats.rejected`, and a line in `<spool>/rejected.log` that `ledger spool status` counts
(so it survives the process).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ledger import ids
from ledger.store.backlog import reject_reasons
from ledger.store.read import receipt_states
from ledger.terminal import printable

__all__ = ["REJECTED_FILE", "RejectWatch", "rejected_count"]

REJECTED_FILE = "rejected.log"
MAX_WATCHED = 100_000  # ids older than this many submissions are no longer followed
UNKNOWN = "neither in the log, in intake nor in ledger_rejects (removed by someone?)"

log = logging.getLogger("ledger.hooks")


def rejected_count(spool_dir: Path) -> int:
    """How many rejects writers of this home have recorded (one line each)."""
    path = spool_dir / REJECTED_FILE
    return path.read_bytes().count(b"\n") if path.is_file() else 0


class RejectWatch:
    """The submitted ids not yet seen in the log; `check` reports the rejected ones."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.watched: dict[uuid.UUID, None] = {}
        self.rejected: list[str] = []

    def submitted(self, event_ids: Iterable[uuid.UUID]) -> None:
        """Follow these ids (called once their batch is durable in intake)."""
        for event_id in event_ids:
            self.watched[event_id] = None
        while len(self.watched) > MAX_WATCHED:
            self.watched.pop(next(iter(self.watched)))

    def check(self, conn: Any) -> int:
        """Forget logged ids, report rejected ones; returns how many were rejected now."""
        if not self.watched:
            return 0
        wanted = list(self.watched)
        states = receipt_states(conn, wanted)
        gone = [event_id for event_id in wanted if event_id not in states]
        for event_id, state in states.items():
            if state.logged_leaf is not None:
                self.watched.pop(event_id, None)
        if not gone:
            return 0
        reasons = reject_reasons(conn, gone)
        for event_id in gone:
            self.watched.pop(event_id, None)
            self._report(event_id, reasons.get(event_id, UNKNOWN))
        return len(gone)

    def _report(self, event_id: uuid.UUID, reason: str) -> None:
        line = f"{event_id}: {printable(reason)}"
        self.rejected.append(line)
        log.warning("ledger: event %s was rejected by the sequencer: %s",
                    event_id, printable(reason))
        record = {"event_id": str(event_id), "reason": reason,
                  "seen_at": ids.format_timestamp(ids.now_ns())}
        try:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            with (self.spool_dir / REJECTED_FILE).open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:  # the warning and the count still say it
            log.warning("ledger: cannot record the reject in %s: %s", self.spool_dir, exc)
