"""The intake backlog: acknowledged events that have not reached the log yet (issue 15 item 3).

A writer's receipt means "durable in intake"; it becomes a log position only when a sequencer
takes it. Events waiting a little are normal. Events waiting longer than a bound *with no
sequencer running* mean that nothing will ever sequence them: `ledger verify` exits
`ExitCode.STALLED` then, and `ledger db status`, the TUI board header and the metrics show the
same three figures (count, oldest age, sequencer running) from this one module.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import psycopg

from ledger.store.backlog import intake_backlog

__all__ = ["DEFAULT_MAX_AGE", "MAX_AGE_ENV", "Backlog", "read_backlog"]

MAX_AGE_ENV = "LEDGER_MAX_BACKLOG_AGE"
DEFAULT_MAX_AGE = "60s"


@dataclass(frozen=True)
class Backlog:
    """Count and oldest age (seconds, database clock) of intake, and whether a sequencer lives."""

    count: int
    oldest_age_seconds: float | None
    sequencer_running: bool
    max_age_seconds: float

    @property
    def stalled(self) -> bool:
        """Acknowledged events older than the bound and nobody to sequence them."""
        age = self.oldest_age_seconds or 0.0
        return self.count > 0 and age > self.max_age_seconds and not self.sequencer_running

    def as_dict(self) -> dict[str, object]:
        """JSON form (verify --json, db status --json)."""
        return {**asdict(self), "stalled": self.stalled}

    def line(self) -> str:
        """One line for people: `intake backlog: 3 events, oldest 75s, no sequencer running`."""
        if self.count == 0:
            return "intake backlog: 0 events"
        who = "sequencer running" if self.sequencer_running else "no sequencer running"
        age = f"{self.oldest_age_seconds or 0.0:.0f}s"
        text = f"intake backlog: {self.count} events, oldest {age}, {who}"
        return text + (f" (STALLED: over {self.max_age_seconds:g}s)" if self.stalled else "")


def read_backlog(conn: psycopg.Connection, max_age_seconds: float | None = None) -> Backlog:
    """The backlog now; the bound defaults to $LEDGER_MAX_BACKLOG_AGE, else 60s."""
    if max_age_seconds is None:
        from ledger.when import parse_duration

        text = os.environ.get(MAX_AGE_ENV) or DEFAULT_MAX_AGE
        max_age_seconds = parse_duration(text, MAX_AGE_ENV).total_seconds()
    count, age, running = intake_backlog(conn)
    return Backlog(count, age, running, max_age_seconds)
