"""The `agent_ledger.serve` plug-in behind `ledger serve --tiles-dir DIR`: static tlog-tiles
kept up to date while the sequencer runs.

Why a thread of its own, with its own connections: the static files are for auditors, the
sequencer is for writers; a slow disk, a full volume or an unwritable directory must never hold
a batch back. It follows NOTIFY ledger_appended (the sequencer sends "<origin> <size>" after
each batch) and polls every second as the fallback, exporting each log whose newest checkpoint
is not on disk yet (ledger.tiles_static: incremental, checkpoint last). A failure is one warning
line; repeats stay quiet until an export works again (one info line). Without --tiles-dir it does
nothing.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from ledger.db.connect import connect
from ledger.errors import LedgerError
from ledger.serve import ServeContext
from ledger.store.breakers import listen, wakeups
from ledger.store.read import latest_checkpoint, origins
from ledger.terminal import printable
from ledger.tiles_static import export_tiles

__all__ = ["POLL_SECONDS", "TilesPlugin"]

POLL_SECONDS = 1.0
log = logging.getLogger("ledger.serve.tiles")


class TilesPlugin:
    """Exports every log's tiles under `context.tiles_dir` after each checkpoint."""

    def __init__(self) -> None:
        self._context: ServeContext | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failing = False
        #: origin -> the checkpoint size last exported (what a poll compares with)
        self.exported: dict[str, int] = {}

    def start(self, context: ServeContext) -> None:
        if context.tiles_dir is None:
            return
        self._context = context
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tiles-export", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _going(self) -> bool:
        return not self._stop.is_set() and not (self._context and self._context.stop.is_set())

    def _run(self) -> None:
        assert self._context is not None
        settings = self._context.settings
        while self._going():
            try:
                with connect(settings) as conn, connect(settings) as waiter:
                    conn.autocommit = waiter.autocommit = True
                    listen(waiter)  # before the first catch-up: no checkpoint falls between
                    self._catch_up(conn, "")
                    for origin in wakeups(waiter, POLL_SECONDS, self._going):
                        self._catch_up(conn, origin)
            except (psycopg.Error, LedgerError) as exc:
                self._report(str(exc))
                self._stop.wait(POLL_SECONDS)

    def _catch_up(self, conn: psycopg.Connection, origin: str) -> None:
        """Export `origin` (every log of this prefix when empty: the poll) if it has moved."""
        assert self._context is not None and self._context.tiles_dir is not None
        prefix = self._context.settings.origin_prefix + "/"
        names = [origin] if origin else origins(conn)
        for name in names:
            if not name.startswith(prefix):
                continue
            latest = latest_checkpoint(conn, name)
            if latest is None or self.exported.get(name) == latest.tree_size:
                continue
            try:
                done = export_tiles(conn, name, self._context.tiles_dir)
            except (LedgerError, OSError) as exc:
                self._report(str(exc))
                continue
            self.exported[name] = done.size
            if self._failing:
                log.info("tiles: written again under %s", printable(str(self._context.tiles_dir)))
            self._failing = False

    def _report(self, why: str) -> None:
        if not self._failing:
            log.warning("warning: tiles not written (serve goes on, retrying quietly): %s",
                        printable(why))
        self._failing = True
