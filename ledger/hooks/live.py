"""The per-process stop cache: what is stopped, for the origins this process writes (DESIGN §14).

Why a cache: every boundary (tool body, LLM call, run start) must know whether a stop applies,
and a database round trip per call would double the cost of the hot path. The state arrives
three ways, cheapest first:
- the durable acknowledgement of a tool's intent already returns `ledger_live_version()` (same
  statement, no extra round trip); when it is above the cache's version the writer thread
  refreshes the cache on its own connection before it resolves the ack, so the check right after
  the ack sees the stop (one extra round trip, only when stops changed);
- a listener thread with its own connection runs `LISTEN ledger_live`; a notification carries
  only an opaque version number, the content is read through the tenant-scoped read API
  `ledger_stops_since` (a writer sees only its bound origins);
- a poll every `LEDGER_LIVE_POLL` seconds (default 1.0) is the fallback when notifications are
  lost (a dropped connection, a terminated backend).
The listener never raises into the agent: on any failure it reconnects after a pause. It stops
with the writer (`shutdown()`, `configure()`). Its reads have the hooks' bounds (connect and
statement timeouts, keepalives, ledger/db/watchdog.py): a hung server cannot hold them forever.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.db.watchdog import guard
from ledger.errors import InputError
from ledger.hooks.errors import StopInfo
from ledger.stoptargets import parse_agent_target

if TYPE_CHECKING:
    from ledger.hooks.runs import Run

__all__ = ["LiveCache", "StopRow", "live_poll_seconds", "match_stop", "stop_ref"]

log = logging.getLogger("ledger.hooks")
FIRST_LOAD_TIMEOUT = 2.0  # a first run waits at most this long for the stop state
MAX_LIFTED = 4096  # lifts remembered (by version) against late, older reads


def live_poll_seconds() -> float:
    """`LEDGER_LIVE_POLL`: seconds between polls when notifications are lost (default 1.0)."""
    raw = os.environ.get("LEDGER_LIVE_POLL", "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"LEDGER_LIVE_POLL must be a number of seconds, not {raw!r}") from None
    if not 0.01 <= value <= 3600:
        raise InputError(f"LEDGER_LIVE_POLL must be between 0.01 and 3600 seconds, not {raw}")
    return value


@dataclass(frozen=True, slots=True)
class StopRow:
    """One row of `ledger_stops_since`: a stop and whether it has been lifted."""

    version: int
    origin: str
    target: str
    target_run_id: UUID | None
    stop_event_id: UUID
    requested_by: str
    reason: str
    authority: str
    recorded_at: str | None
    lifted: bool

    def info(self) -> StopInfo:
        return StopInfo(target=self.target, requested_by=self.requested_by, reason=self.reason,
                        stop_event_id=self.stop_event_id, authority=self.authority,
                        recorded_at=self.recorded_at, origin=self.origin)


def stop_ref(stop: StopInfo) -> dict[str, Any]:
    """RunEndedData.stopped_by: the stop that halted the run."""
    return {"target": stop.target, "requested_by": stop.requested_by, "reason": stop.reason,
            "stop_event_id": str(stop.stop_event_id) if stop.stop_event_id else None,
            "authority": stop.authority}


def _run_matches(kind: str, value: str, run: Run) -> bool:
    """Does a run-level target (run, agent, tenant, model, prompt) cover this run?"""
    if kind == "run":
        return value == str(run.run_id)
    if kind == "agent":
        name, version = parse_agent_target(value)  # NAME percent-encoded (ledger.stoptargets)
        agent = run.envelope["agent"]
        return bool(name == agent["name"] and (not version or version == agent["version"]))
    if kind == "tenant":
        return value == run.tenant
    if kind == "model":
        model = run.envelope["versions"]["model"]
        return model is not None and fnmatch.fnmatchcase(model, value)
    if kind == "prompt":
        return value == run.envelope["versions"]["prompt_version"] or value in run.prompts
    return False


def match_stop(row: StopRow, run: Run, origin: str, *, tool: str | None = None,
               model: str | None = None) -> bool:
    """The COMMON16 target grammar, judged for one live run (and the tool or model about to
    start); a stop applies to its own origin only."""
    if row.lifted or row.origin != origin:
        return False
    if row.target_run_id is not None and row.target_run_id == run.run_id:
        return True
    kind, _, value = row.target.partition(":")
    if kind == "tool":
        return tool is not None and fnmatch.fnmatchcase(tool, value)
    if kind == "model" and model is not None and fnmatch.fnmatchcase(model, value):
        return True
    return _run_matches(kind, value, run)


class LiveCache:
    """Stops in force for this process's origins, kept fresh by ack versions, NOTIFY and polls."""

    def __init__(self, settings: Settings, poll: float | None = None,
                 connect: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self._connect = connect  # the writer's own factory when one was injected (tests)
        self.poll = live_poll_seconds() if poll is None else poll
        self.version = 0
        self.refreshes = 0  # for tests and the bench: how often the cache was read
        # stops in force, indexed by kind: run stops by run id, scope stops (few) by event id;
        # lifted stops are dropped, only their version is remembered (bounded) so an older
        # read applied late cannot bring them back
        self._by_run: dict[UUID, dict[UUID, StopRow]] = {}
        self._scoped: dict[UUID, StopRow] = {}
        self._seen: dict[UUID, int] = {}  # stop event id -> version of its state in the index
        self._lifted: dict[UUID, int] = {}  # stop event id -> version of its lift (FIFO)
        self._origins: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.listener_pid: int | None = None  # the listener's backend (tests terminate it)
        # published policy packs of the watched origins: origin -> event_id -> (seq, hash, doc)
        self._packs: dict[str, dict[UUID, tuple[int, str, Any]]] = {}
        self._loaded: set[str] = set()  # origins whose stops and packs were read at least once
        self.confirmed = 0.0  # monotonic time the cache was last known current
        self._pid = os.getpid()

    # -- what the boundaries ask ----------------------------------------------------------
    def find(self, run: Run, *, tool: str | None = None,
             model: str | None = None) -> StopInfo | None:
        """The first stop in force covering `run` (and the tool or model about to start).

        Run stops are indexed by run id (O(1)); scope stops are few and kept in version order.
        A run whose origin this cache does not watch yet (it outlived a `configure()`) makes
        the cache watch it first, so no run is ever judged against a cache blind to its origin.
        """
        origin = self.settings.origin(run.tenant)
        if origin not in self._origins or self._thread is None:
            self.watch(run.tenant)
        with self._lock:
            rows = [*self._by_run.get(run.run_id, {}).values(), *self._scoped.values()]
        for row in sorted(rows, key=lambda r: r.version) if len(rows) > 1 else rows:
            if match_stop(row, run, origin, tool=tool, model=model):
                return row.info()
        return None

    def rows(self) -> list[StopRow]:
        """Every stop in force this cache holds (diagnostics and tests)."""
        with self._lock:
            return [*self._scoped.values(), *(r for s in self._by_run.values()
                                               for r in s.values())]

    def watch(self, tenant: str) -> None:
        """Make sure the stops of `tenant`'s origin are loaded (first run of an origin waits,
        briefly; an unreachable database is not an error here: the tool's ack fails closed)."""
        origin = self.settings.origin(tenant)
        with self._lock:
            known = origin in self._origins
            self._origins.add(origin)
        if not known:
            self._load_now(origin)
        self._ensure_thread()

    def note_version(self, version: int | None, conn: Any) -> None:
        """An ack reported `version`: refresh through `conn` if the cache is behind (an ack at
        the cache's version confirms it is current)."""
        if version is not None and version <= self.version and self._origins:
            self.confirmed = time.monotonic()
        if version is None or version <= self.version or not self._origins:
            return
        try:
            self.refresh(conn)
        except Exception as exc:  # the listener or the poll will catch up; until then a
            log.debug("ledger: stop refresh after ack failed: %s", exc)  # call that needs
            # the database is refused (stale(): this ack's version is above the cache's)

    def stale(self, version: int | None) -> bool:
        """Is this cache known to be behind `version` (an ack showed a newer stop state that
        could not be read)? A call that requires the database must then fail closed."""
        return version is not None and version > self.version

    # -- reading the read API ---------------------------------------------------------------
    def refresh(self, conn: Any, origins: Iterable[str] | None = None, since: int | None = None
                ) -> None:
        """Read the stops changed since the cached version (one statement, one snapshot).

        An origin never read whole (its first load failed) is read from version 0 first: the
        cached version may already be past its older stops (another origin's were newer)."""
        with self._lock:
            wanted = sorted(origins if origins is not None else self._origins)
            after = self.version if since is None else since
            whole = origins is None or set(wanted) >= self._origins
            fresh = [o for o in wanted if o not in self._loaded] if after > 0 else []
        if not wanted:
            return
        if fresh:
            self._read(conn, fresh, 0, whole=False)
        self._read(conn, wanted, after, whole=whole)

    def _read(self, conn: Any, wanted: list[str], after: int, *, whole: bool) -> None:
        rows = conn.execute(query("hooks_stop_cache_refresh"), (wanted, after)).fetchall()
        packs = conn.execute(query("hooks_policies_since"), (wanted, after)).fetchall()
        self._apply(rows, whole)
        with self._lock:
            for _v, origin, seq, event_id, pack_hash, document in packs:
                if pack_hash:
                    self._packs.setdefault(origin, {})[event_id] = (int(seq), pack_hash, document)
            self._loaded.update(wanted)
            if whole:
                self.confirmed = time.monotonic()

    # -- the packs (slice "enforce") --------------------------------------------------------
    def packs(self, origin: str) -> list[tuple[int, str, Any]]:
        """The policy packs published in `origin`, as (seq, policy_hash, document)."""
        with self._lock:
            return list(self._packs.get(origin, {}).values())

    def loaded(self, origin: str) -> bool:
        """Were `origin`'s stops and packs read at least once?"""
        return origin in self._loaded

    @property
    def stale_after(self) -> float:
        """The staleness bound: 3 x LEDGER_LIVE_POLL without a refresh or a confirming ack."""
        return 3 * self.poll

    def current(self, origin: str) -> bool:
        """Can this process confirm what is in force for `origin` now (loaded, not stale)?"""
        return self.loaded(origin) and time.monotonic() - self.confirmed <= self.stale_after

    def confirm(self, origin: str) -> bool:
        """Read what changed now, on a short-lived connection (the listener may be cut off);
        True when `origin` is then current. Failures are silent: the caller fails closed."""
        with self._lock:
            self._origins.add(origin)
        try:
            with self._open() as conn, guard(conn, FIRST_LOAD_TIMEOUT + 0.5):
                if origin not in self._loaded:
                    self.refresh(conn, origins=[origin], since=0)
                self.refresh(conn)
        except Exception as exc:
            log.debug("ledger: could not confirm the live state of %s: %s", origin, exc)
        return self.current(origin)

    def _apply(self, rows: list[tuple[Any, ...]], whole: bool) -> None:
        """Apply rows by their own version; the cache version moves only when every origin
        was read (a first load of one new origin must not skip another's changes)."""
        with self._lock:
            self.refreshes += 1
            if rows and whole:
                self.version = max(self.version, int(rows[0][0]))
            for _, *fields in rows:
                if fields[0] is None:  # the version-only row (no stop changed)
                    continue
                recorded = fields[8]
                self._index(StopRow(int(fields[0]), fields[1], fields[2], fields[3], fields[4],
                                    fields[5], fields[6] or "", fields[7] or "asserted",
                                    recorded.isoformat() if recorded is not None else None,
                                    bool(fields[9])))

    def _index(self, row: StopRow) -> None:
        """Keep `row` unless a newer state of the same stop is known (caller holds the lock)."""
        key = row.stop_event_id
        if max(self._seen.get(key, 0), self._lifted.get(key, 0)) > row.version:
            return
        self._drop(key)
        if row.lifted:
            self._lifted[key] = row.version
            while len(self._lifted) > MAX_LIFTED:
                del self._lifted[next(iter(self._lifted))]
            return
        self._seen[key] = row.version
        if row.target_run_id is not None:
            self._by_run.setdefault(row.target_run_id, {})[key] = row
        else:
            self._scoped[key] = row

    def _drop(self, key: UUID) -> None:
        if self._seen.pop(key, None) is None:
            return
        if self._scoped.pop(key, None) is not None:
            return
        for run_id, stops in list(self._by_run.items()):
            if stops.pop(key, None) is not None and not stops:
                del self._by_run[run_id]

    def _open(self) -> Any:
        """A short-lived connection for one read (the writer's factory when injected), opened
        as the writer opens its own (`migrate=True`): on a fresh home the first read may come
        before the first write, and a missing read API must not read as "unreachable"."""
        if self._connect is not None:
            return self._connect()
        t = self.settings.timeouts
        first = replace(t, connect=min(t.connect, FIRST_LOAD_TIMEOUT),
                        statement=min(t.statement, FIRST_LOAD_TIMEOUT))
        return _hooks_connection(replace(self.settings, timeouts=first))

    def connection(self) -> Any:
        """A short-lived connection for a few reads (an approval being waited for)."""
        return self._open()

    def fetch(self, sql: Any, params: Any) -> list[tuple[Any, ...]]:
        """One read through the read API on a short-lived connection (enforcement's rare reads:
        a resumed run's totals, an approval being waited for)."""
        with self._open() as conn, guard(conn, FIRST_LOAD_TIMEOUT + 0.5):
            return list(conn.execute(sql, params).fetchall())

    def _load_now(self, origin: str) -> None:
        try:
            with self._open() as conn, guard(conn, FIRST_LOAD_TIMEOUT + 0.5):
                self.refresh(conn, origins=[origin], since=0)
        except Exception as exc:
            log.debug("ledger: could not load the stops of %s: %s", origin, exc)

    # -- the listener thread ----------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's thread is not ours
                self._thread, self._pid = None, os.getpid()
            if self._thread is not None or self._closing.is_set():
                return
            self._thread = threading.Thread(target=self._listen, name="ledger-live", daemon=True)
            self._thread.start()

    def _listen(self) -> None:
        while not self._closing.is_set():
            try:
                opened = (self._connect() if self._connect is not None
                          else self._listener_conn())
                with opened as conn:
                    self._listen_on(conn)
            except Exception as exc:  # never into the agent: reconnect after a pause
                log.debug("ledger: stop listener reconnecting: %s", exc)
                self.listener_pid = None
                self._closing.wait(min(self.poll, 1.0))

    def _listener_conn(self) -> psycopg.Connection:
        """The listener's own connection: keepalives and a statement timeout, so a half-open
        TCP connection cannot hang its refresh (and the stops it should bring) forever."""
        return _hooks_connection(self.settings)

    def _listen_on(self, conn: psycopg.Connection) -> None:
        statement = self.settings.timeouts.statement
        with guard(conn, statement + 0.5):
            conn.execute("LISTEN ledger_live")
            self.listener_pid = conn.info.backend_pid
            self.refresh(conn)  # anything that changed while we were not listening
        next_poll = time.monotonic() + self.poll
        while not self._closing.is_set():
            # short waits, so shutdown() never waits a whole poll interval for this thread
            cued = any(True for _ in conn.notifies(timeout=min(self.poll, 0.1), stop_after=1))
            if self._closing.is_set():
                return
            if cued or time.monotonic() >= next_poll:  # a notification or the poll: same read
                with guard(conn, statement + 0.5):
                    self.refresh(conn)
                next_poll = time.monotonic() + self.poll

    def close(self) -> None:
        """Stop the listener (with the writer). Not final, like the writer's close: a run that
        outlives a `configure()` keeps this cache, and its next check restarts the listener."""
        self._closing.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.poll + 2.0)
        self._closing.clear()


def _hooks_connection(settings: Settings) -> psycopg.Connection:
    """A connection with the hooks' bounds (connect/statement timeouts, keepalives), on a
    schema migrated first, as the writer's (`ledger.db.connect.connect(migrate=True)`)."""
    from ledger.db.connect import connect  # imported late, as before
    return connect(settings, migrate=True, bounded=True)
