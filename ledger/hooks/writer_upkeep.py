"""The writer thread's upkeep on its connection: bounded statements, sequencing, rejects.

Split from ledger/hooks/writer.py (a mixin of `Writer`) so the delivery path stays readable:
everything here runs on the writer thread, on the writer's connection, and every statement is
guarded by the statement timeout (ledger/db/watchdog.py), because a database that accepts TCP
and never answers must cost one timeout, not the writer thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ledger.config import Settings
from ledger.db.watchdog import guard
from ledger.hooks.encoding import WriterStats
from ledger.hooks.rejects import RejectWatch
from ledger.hooks.spool import is_unavailable
from ledger.terminal import printable

__all__ = ["Upkeep"]

log = logging.getLogger("ledger.hooks")


class Upkeep:
    """Mixin of `Writer`: the attributes below are set by `Writer.__init__`."""

    settings: Settings
    stats: WriterStats
    rejects: RejectWatch
    retry_interval: float
    sequence_interval: float
    _conn: Any
    _next_retry: float
    _last_sequence: float
    _unsequenced: bool
    _waits_for_leadership: bool
    _sequence_problem: str
    _sequence: Callable[[Any], int] | None

    def _bounded(self) -> Any:
        """Cut the connection if a statement outlives the statement timeout (server hung)."""
        return guard(self._conn, self.settings.timeouts.statement + 0.5)

    def _drop_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:
                log.debug("ledger: closing connection failed: %s", exc)

    def _maybe_sequence(self, force: bool) -> None:
        if self._sequence is None or not self._unsequenced or self._conn is None:
            return
        now = time.monotonic()
        if not force and now - self._last_sequence < self.sequence_interval:
            return
        self._last_sequence = now
        try:
            with self._bounded():
                self.stats.sequenced += self._sequence(self._conn)
            self._unsequenced = False
        except Exception as exc:
            self.stats.errors.append(f"sequence: {type(exc).__name__}: {exc}"[:500])
            if is_unavailable(exc):
                self._drop_conn()
            elif str(exc) != self._sequence_problem:  # e.g. a bad log key: durable, not logged
                self._sequence_problem = str(exc)
                log.warning("ledger: events are durable in intake but cannot be sequenced: %s",
                            printable(str(exc)))
            return
        self._sequence_problem = ""
        self._check_rejects()

    def _final_sequence(self) -> None:
        """Close's sequencing pass: everything this writer delivered, waiting for leadership.

        A pass while another process held leadership (SKIP LOCKED) sequenced nothing and that
        process's batch may not have seen our events; without this the events of a process
        that exits would wait in intake for the next sequencer. Bounded by the statement
        timeout: after it, they stay durable in intake (warned once), never lost.
        """
        if self.stats.submitted or self.stats.delivered_from_spool:
            self._unsequenced = True
        self._waits_for_leadership = True
        try:
            self._maybe_sequence(force=True)
        finally:
            self._waits_for_leadership = False

    def _check_rejects(self) -> None:
        """Ask where submitted events are; warn about and count the rejected ones (never silent)."""
        if self._conn is None:
            return
        try:
            with self._bounded():
                self.stats.rejected += self.rejects.check(self._conn)
        except Exception as exc:
            self.stats.errors.append(f"rejects: {type(exc).__name__}: {exc}"[:500])
            if is_unavailable(exc):
                self._drop_conn()
