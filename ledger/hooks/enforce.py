"""Per-run enforcement state: the pack pinned at run start, and the basis of each decision.

Why here and not in replay: the hooks must decide before a tool body runs, in the agent's
process, without importing replay (layering). The policy itself comes from the guard registered
under `agent_ledger.guards` (ledger/hooks/guard.py, replay's PolicyGuard), loaded once per
process. The pack a run is judged by is the one in force at its first event (replay's
inforce.py), so the hooks choose it with the guard's `pack_for` at run start and keep it.

The basis the guard decides on is kept here as the run goes: tool calls so far (all, of the
tool, identical (tool, args_hash)), untrusted input seen, elapsed seconds, and the running totals
cost_usd / total_tokens / unknown_cost_calls. The totals are kept by the database per run
(migration 0017) and come back with each acknowledgement; events not yet acknowledged are added
locally, so the basis never understates what this process recorded before the call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.db.sqlfiles import query
from ledger.hooks.guard import installed_guards
from ledger.hooks.pricing import decimal_text

if TYPE_CHECKING:
    from ledger.hooks.runs import Run

__all__ = ["RunEnforcement", "RunTotals", "pin", "policy_guard"]

log = logging.getLogger("ledger.hooks")
ZERO: tuple[Decimal, int, int] = (Decimal(0), 0, 0)

_guard_lock = threading.Lock()
_guard: dict[str, list[Any]] = {}


def policy_guard() -> Any | None:
    """The installed guard that chooses packs (`pack_for`), loaded once per process."""
    with _guard_lock:
        if "loaded" not in _guard:
            try:
                found = [g for _, g in installed_guards() if hasattr(g, "pack_for")]
            except Exception as exc:  # a broken plug-in: say so once; runs are not enforced
                log.error("ledger: policy guard could not be loaded: %s", exc)
                found = []
            _guard["loaded"] = found[:1]
        found = _guard["loaded"]
        return found[0] if found else None


class RunTotals:
    """cost_usd / total_tokens / unknown_cost_calls of one run: the database's (from the last
    acknowledgement) plus this process's deltas not yet acknowledged."""

    def __init__(self, base: tuple[Decimal, int, int] = ZERO) -> None:
        self._lock = threading.Lock()
        self.db = base
        self._unacked: dict[UUID, tuple[Decimal, int, int]] = {}

    def add(self, event_id: UUID, delta: tuple[Decimal, int, int]) -> None:
        """An event carrying `delta` was queued (agent thread)."""
        with self._lock:
            self._unacked[event_id] = delta

    def settle(self, event_id: UUID, totals: tuple[Decimal, int, int]) -> None:
        """The database counted `event_id` and reported the run's totals (writer thread)."""
        with self._lock:
            self._unacked.pop(event_id, None)
            self.db = (max(self.db[0], totals[0]), max(self.db[1], totals[1]),
                       max(self.db[2], totals[2]))

    def current(self) -> tuple[Decimal, int, int]:
        with self._lock:
            cost, tokens, unknown = self.db
            for c, t, u in self._unacked.values():
                cost, tokens, unknown = cost + c, tokens + t, unknown + u
        return cost, tokens, unknown


@dataclass
class RunEnforcement:
    """The pinned pack of one run and what its decisions are based on."""

    guard: Any
    pack_hash: str
    document: Mapping[str, Any]
    enforcing: bool
    taint_tools: tuple[str, ...]
    origin: str
    resumed: bool
    started: float = field(default_factory=time.monotonic)
    of_tool: Counter[str] = field(default_factory=Counter)
    identical: Counter[tuple[str, str]] = field(default_factory=Counter)
    untrusted: bool = False
    totals: RunTotals = field(default_factory=RunTotals)
    # (tool, args_hash) -> (tool_call_id, approval_id) of a call held for approval
    pending: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    looked_up: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # LLM calls of this process started and not ended: their spend is not known yet, so they
    # count as unknown cost (replay counts the same: replay.policy.basis)
    open_llm: set[str] = field(default_factory=set)

    def llm_started(self, call_id: str) -> None:
        with self.lock:
            self.open_llm.add(call_id)

    def llm_ended(self, call_id: str) -> None:
        with self.lock:
            self.open_llm.discard(call_id)

    def note_started(self, tool: str, args_hash: str) -> None:
        """A tool.call.started of this run was recorded (every kind: waited or not)."""
        with self.lock:
            self.of_tool[tool] += 1
            self.identical[(tool, args_hash)] += 1

    def note_result(self, tool: str) -> None:
        """A tool ended: its result is untrusted input if a flow names the tool as a source."""
        if not self.untrusted and any(fnmatchcase(tool, t) for t in self.taint_tools):
            self.untrusted = True

    def basis(self, run: Run, tool: str, args_hash: str,
              approval: Mapping[str, Any] | None) -> dict[str, Any]:
        """The JSON basis of a decision (counts exclude the call being decided)."""
        cost, tokens, unknown = self.totals.current()
        with self.lock:
            of_tool, same = self.of_tool[tool], self.identical[(tool, args_hash)]
            unknown += len(self.open_llm)
        return {"tool_calls": run.tool_calls, "tool_calls_of_tool": of_tool,
                "identical_calls": same, "cost_usd": decimal_text(cost),
                "total_tokens": tokens, "unknown_cost_calls": unknown,
                "elapsed_seconds": round(time.monotonic() - self.started, 6),
                "untrusted_input": self.untrusted, "approval": approval}


def _info(guard: Any, pack_hash: str, document: Mapping[str, Any]) -> Mapping[str, Any]:
    if hasattr(guard, "pack_info"):
        info: Mapping[str, Any] = guard.pack_info(pack_hash, document)
        return info
    return {"active": True, "enforcing": True, "taint_tools": []}  # unknown guard: strict


def pin(run: Run, *, resumed: bool) -> RunEnforcement | None:
    """Choose the run's pack from the cache (None: no pack applies, or it is `off`).

    Raises nothing: an origin whose packs could not be read leaves `run.pack_unknown` set, and
    a side-effecting call then fails closed (ledger/hooks/precheck.py)."""
    live = run.writer.live
    origin = run.writer.settings.origin(run.tenant)
    loaded = live.loaded(origin)
    if loaded and not _may_enforce(live.packs(origin)):
        run.pack_unknown = False
        return None  # the common case: no guard loaded (importing it costs most of a second)
    guard = policy_guard()
    if guard is None:
        return None
    if not loaded:
        run.pack_unknown = True
        return None
    run.pack_unknown = False
    published = live.packs(origin)
    facts = {"agent": run.agent, "version": run.envelope["agent"]["version"],
             "tenant": run.tenant}
    pack_hash = guard.pack_for(facts, published)
    if pack_hash is None:
        return None
    document = next(doc for _, h, doc in published if h == pack_hash)
    info = _info(guard, pack_hash, document)
    if not info.get("active"):
        return None
    enf = RunEnforcement(guard, pack_hash, document, bool(info.get("enforcing")),
                         tuple(info.get("taint_tools") or ()), origin, resumed)
    if resumed:
        enf.totals = RunTotals(_db_totals(run))
    return enf


_ACTIVE = ("enforce", "shadow")


def _may_enforce(published: Sequence[tuple[int, str, Any]]) -> bool:
    """Whether any published pack of the origin names an enforce or shadow mode at all: a
    pre-filter only (the guard decides which pack applies and whether it is active), so runs
    of a log whose packs are all `off` never pay for loading the guard and its CEL parser."""
    for _, _, doc in published:
        if not isinstance(doc, Mapping):
            return True  # not what publication stores: let the guard judge it
        modes = doc.get("rule_modes")
        if doc.get("mode") in _ACTIVE or (
            isinstance(modes, Mapping) and any(m in _ACTIVE for m in modes.values())
        ):
            return True
    return False


def _db_totals(run: Run) -> tuple[Decimal, int, int]:
    """A resumed run starts from the database's totals (one round trip, at run start)."""
    try:
        rows = run.writer.live.fetch(query("hooks_run_totals"), (run.run_id,))
    except Exception as exc:  # counted from zero: replay's recount still judges the run
        log.warning("ledger: could not read the totals of run %s: %s", run.run_id, exc)
        return ZERO
    if not rows:
        return ZERO
    cost, tokens, unknown = rows[0]
    return Decimal(cost), int(tokens), int(unknown)
