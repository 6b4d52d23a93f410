"""The background writer: events leave the agent's thread in microseconds and reach PostgreSQL.

The agent thread only captures what cannot wait (ids, clocks, references to the payload) and
puts a `Pending` on a queue. One writer thread per process does everything expensive in order:
it sanitises payloads, assigns each run's `run_seq` and `prev_run_hash` (so the per-run hash
chain is computed client-side, in queue order), builds the typed event, canonicalises it,
truncates oversized payloads, and submits batches in one transaction. A side-effecting tool's
intent carries a Future that resolves only when its batch is durable in the database; if it
cannot be, the tool is refused (fail closed) while the event itself still goes to the spool, so
the chain stays intact and the refused attempt is on the record.

While the database is unreachable everything goes to the local spool; the writer keeps trying
to reconnect and, once it can, delivers the spool *before* any new event so each run's chain
arrives in order. An event that cannot be built at all becomes a `ledger.gap` in its place.
Every statement of this thread is bounded (LEDGER_STATEMENT_TIMEOUT, ledger/db/watchdog.py): a
database that stops answering costs one timeout, then the events go to the spool.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.hooks.encoding import (
    Ack,
    Pending,
    RunChain,
    SpooledDeltas,
    WriterStats,
    encode_pending,
    gather,
    live_version_of,
    resolve,
    resolve_gated,
    settle_totals,
)
from ledger.hooks.errors import LedgerUnavailable
from ledger.hooks.live import LiveCache
from ledger.hooks.rejects import RejectWatch
from ledger.hooks.spool import Spool, is_unavailable
from ledger.hooks.writer_upkeep import Upkeep
from ledger.store.append import EncodedEvent
from ledger.store.door import append_encoded
from ledger.store.sequencer import try_sequence

__all__ = ["Ack", "Pending", "RunChain", "Writer", "WriterStats"]

log = logging.getLogger("ledger.hooks")
DEFAULT_MAX_EVENT_BYTES = 256 * 1024

Connect = Callable[[], Any]
SubmitFn = Callable[[Any, Sequence[EncodedEvent]], object]
SequenceFn = Callable[[Any], int]


class _Barrier:
    def __init__(self, final: bool = False) -> None:
        self.future: Future[bool] = Future()
        self.final = final  # close(): sequencing waits for leadership (nothing left in intake)


_STOP = object()


class Writer(Upkeep):
    """Queue + background thread + spool for one process (see module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        connect: Connect | None = None,
        submit: SubmitFn | None = None,
        sequence: SequenceFn | bool | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        retry_interval: float = 0.5,
        sequence_interval: float = 0.2,
        batch_size: int = 500,
    ) -> None:
        self.settings = settings
        self.max_event_bytes = max_event_bytes
        self.retry_interval = retry_interval
        self.sequence_interval = sequence_interval
        self.batch_size = batch_size
        self.spool = Spool(settings.spool_dir)
        self.stats = WriterStats()
        self.rejects = RejectWatch(settings.spool_dir)
        self._spooled_deltas = SpooledDeltas()
        self._custom_connect = connect
        self._connect = connect or self._default_connect
        self._submit = submit or self._default_submit
        if sequence is None:
            sequence = settings.embedded
        if sequence is True:
            self._sequence: SequenceFn | None = self._default_sequence
        elif sequence is False:
            self._sequence = None
        else:
            self._sequence = sequence
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: Any = None
        self._next_retry = 0.0
        self._last_sequence = 0.0
        self._unsequenced = False
        self._waits_for_leadership = False
        self._sequence_problem = ""  # last one warned about (a bad log key): warn once each
        self._carry: list[tuple[EncodedEvent, Pending | None]] = []
        # private payloads (committed identity tokens) waiting for their event's transaction
        self._private: dict[Any, tuple[str, tuple[Any, ...]]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._live: LiveCache | None = None

    @property
    def live(self) -> LiveCache:
        """This process's stop cache (ledger/hooks/live.py), made on first use."""
        with self._lock:
            if self._live is None:
                self._live = LiveCache(self.settings, connect=self._custom_connect)
            return self._live

    # -- defaults wired to the store -----------------------------------------------------------
    def _default_connect(self) -> Any:
        return connect(self.settings, migrate=True, bounded=True)

    @staticmethod
    def _default_submit(conn: Any, items: Sequence[EncodedEvent]) -> object:
        return append_encoded(conn, items).receipts

    def _default_sequence(self, conn: Any) -> int:
        # at close, wait for leadership: another process's pass may not have seen our events
        return try_sequence(conn, self.settings, wait=self._waits_for_leadership)

    # -- agent-thread API --------------------------------------------------------------------
    def enqueue(self, pending: Pending | tuple[Pending, ...]) -> None:
        """Hand an event to the writer thread (cheap: one queue put)."""
        if self._thread is None:
            self._start()
        self._queue.put(pending)

    def enqueue_many(self, pendings: Sequence[Pending]) -> None:
        """Several events as one item: one batch, one statement, in order (decision, intent)."""
        self.enqueue(tuple(pendings))

    def flush(self, timeout: float = 30.0, *, final: bool = False) -> bool:
        """Wait until everything queued so far is durable; True if nothing is left in the spool."""
        if self._thread is None:
            self._start()
        barrier = _Barrier(final)
        self._queue.put(barrier)
        try:
            return barrier.future.result(timeout)
        except TimeoutError:
            return False

    def close(self, timeout: float = 30.0) -> None:
        """Flush, stop the thread and close the connection (registered with atexit).

        Not final: a run that outlives a `configure()` still holds this writer, and an event it
        records afterwards restarts the thread rather than vanishing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self._thread is not None:
                self.flush(timeout, final=True)
                self._queue.put(_STOP)
                self._thread.join(timeout)
            self.spool.close()
            self._drop_conn()
            if self._live is not None:  # kept (stops known, origins watched): a run that
                self._live.close()  # outlives configure() still checks against it
        finally:
            with self._lock:
                self._thread = None
                self._closed = False

    @property
    def degraded(self) -> bool:
        """True while events are going to the spool instead of the database."""
        return self._conn is None or self.spool.has_own_pending() or bool(self._carry)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="ledger-writer", daemon=True)
                self._thread.start()
                atexit.unregister(self.close)
                atexit.register(self.close)

    # -- writer thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.retry_interval)
            except queue.Empty:
                self._idle()
                continue
            items = gather(self._queue, first, self.batch_size)
            stop = False
            batch: list[tuple[EncodedEvent, Pending | None]] = []
            for item in items:
                if isinstance(item, Pending):
                    batch.append((self.encode(item), item))
                    continue
                if isinstance(item, tuple):  # enqueue_many: together, in order
                    batch.extend((self.encode(p), p) for p in item)
                    continue
                if batch:
                    self._deliver(batch)
                    batch = []
                if isinstance(item, _Barrier):
                    item.future.set_result(self._barrier(item.final))
                elif item is _STOP:
                    stop = True
            if batch:
                self._deliver(batch)
            self._maybe_sequence(force=False)
            if stop:
                return

    def _idle(self) -> None:
        if self.degraded and time.monotonic() >= self._next_retry:
            self._recover(force=False)
        self._maybe_sequence(force=False)
        if self._sequence is None:  # `ledger serve` sequences: learn its rejects meanwhile
            self._check_rejects()

    def _barrier(self, final: bool = False) -> bool:
        try:
            self._recover(force=True)
            if final:  # at close: what this writer delivered is sequenced before it exits
                self._final_sequence()
            else:
                self._maybe_sequence(force=True)
            self._check_rejects()
        except Exception as exc:  # pragma: no cover - defensive; never kill the thread
            self.stats.errors.append(f"flush: {exc}")
        return not self.degraded

    def encode(self, p: Pending) -> EncodedEvent:
        """Build, canonicalise and chain one event; never raises (falls back to ledger.gap)."""
        gaps = self.stats.gaps
        encoded = encode_pending(p, self.settings, self.max_event_bytes, self.stats)
        if p.private and self.stats.gaps == gaps:  # a gap carries no commitment to open
            self._private[encoded.event_id] = (encoded.origin, p.private)
        return encoded

    def _submit_items(self, conn: Any, items: Sequence[EncodedEvent]) -> object:
        """Submit; events that carry commitments go in one transaction with their payloads.

        Payloads wait in memory until their event is submitted, also from the spool, so a
        commitment never reaches the log without its payload while this process lives.
        """
        held = [(e.event_id, self._private[e.event_id]) for e in items
                if e.event_id in self._private]
        if not held:
            with self._bounded():
                result = self._submit(conn, items)
            self.rejects.submitted(e.event_id for e in items)
            return result
        from ledger.privacy import seal_payloads

        with self._bounded(), conn.transaction():
            seal_payloads(conn, self.settings, [(origin, event_id, row)
                                                for event_id, (origin, rows) in held
                                                for row in rows])
            result = self._submit(conn, items)
        for event_id, _ in held:
            self._private.pop(event_id, None)
        self.rejects.submitted(e.event_id for e in items)
        return result

    # -- delivery ----------------------------------------------------------------------------
    def _ensure_conn(self, force: bool) -> bool:
        if self._conn is not None:
            return True
        if not force and time.monotonic() < self._next_retry:
            return False
        try:
            self._conn = self._connect()
            return True
        except Exception as exc:
            self._next_retry = time.monotonic() + self.retry_interval
            self.stats.errors.append(f"connect: {exc}"[:500])
            return False

    def _recover(self, force: bool) -> None:
        """Reconnect, deliver carried and spooled events in order; stay degraded on failure."""
        if not self._ensure_conn(force):
            return
        if self._carry:
            carry, self._carry = self._carry, []
            self._to_spool(carry)
        if self.spool.has_own_pending() or force:
            result = self.spool.flush(self._submit_spooled, self.settings.origin,
                                      self.settings.tenant)
            self.stats.delivered_from_spool += result.delivered
            self.stats.gaps += result.gaps
            if result.delivered:
                self._unsequenced = True
            if result.unavailable:
                self._drop_conn()
                self._next_retry = time.monotonic() + self.retry_interval

    def _submit_spooled(self, items: Sequence[EncodedEvent]) -> object:
        """The spool keeps bodies only: deltas held here go back on (counted in the totals)."""
        result = self._submit_items(self._conn, self._spooled_deltas.restore(items))
        self._spooled_deltas.delivered(items)
        return result

    def _deliver(self, batch: list[tuple[EncodedEvent, Pending | None]]) -> None:
        need_db = any(p is not None and p.require_db for _, p in batch)
        if self.degraded:
            self._recover(force=need_db)
        if not self.degraded:
            try:
                result = self._submit_items(self._conn, [e for e, _ in batch])
            except Exception as exc:
                self.stats.errors.append(f"submit: {type(exc).__name__}: {exc}"[:500])
                if is_unavailable(exc):
                    self._drop_conn()
                    self._next_retry = time.monotonic() + self.retry_interval
            else:
                self.stats.submitted += len(batch)
                self._unsequenced = True
                version = live_version_of(result)
                settle_totals(batch, result)
                if self._live is not None and any(p is not None and p.ack is not None
                                                  for _, p in batch):
                    with self._bounded():  # a round trip only if behind
                        self._live.note_version(version, self._conn)
                for encoded, p in batch:
                    if p is not None and p.ack is not None:
                        resolve_gated(p, Ack(encoded.event_id, True, version))
                return
        self._to_spool(batch)

    def _to_spool(self, batch: list[tuple[EncodedEvent, Pending | None]]) -> None:
        try:
            self.spool.append([e.body for e, _ in batch])
            self.stats.spooled += len(batch)
            self._spooled_deltas.keep([e for e, _ in batch])
        except OSError as exc:
            # Disk refused too: keep them in memory and retry; never drop silently.
            self.stats.errors.append(f"spool: {exc}"[:500])
            self._carry.extend(batch)
        for encoded, p in batch:
            if p is None or p.ack is None or p.ack.done():
                continue
            if p.require_db:
                resolve(p.ack, LedgerUnavailable(
                    "the ledger database is unreachable, so the intent of this side-effecting "
                    "tool call could not be recorded; the tool was not run"))
            else:
                resolve_gated(p, Ack(encoded.event_id, durable=False))
