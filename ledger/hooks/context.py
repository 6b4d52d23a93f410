"""The run in force for the current task or thread, carried by a ContextVar.

A ContextVar (not a thread-local) is what makes identity follow the agent into asyncio tasks
and `contextvars.copy_context()` thread pools, so every event a tool or integration records
carries the initiating user, roles, agent and versions of the run that caused it.

Outside any `ledger.run(...)`, an integration may know the run from its framework's own
context (LangChain's `var_child_runnable_config`, a Temporal activity's info): it registers a
run resolver, which `@ledger.tool` asks before opening an implicit run of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.hooks.runs import Run

__all__ = ["RunResolver", "current_run", "register_run_resolver", "resolve_run", "run_var"]

log = logging.getLogger("ledger.hooks")

run_var: ContextVar[Run | None] = ContextVar("ledger_run", default=None)

RunResolver = Callable[[], "Run | None"]
_resolvers: list[RunResolver] = []
_lock = threading.Lock()


def current_run() -> Run | None:
    """The innermost active `ledger.run(...)` in this context, or None."""
    return run_var.get()


def register_run_resolver(fn: RunResolver) -> RunResolver:
    """Register `fn` (once): asked, in registration order, for the run of a tool called
    outside any `ledger.run(...)`. Returns `fn`, so it can be used as a decorator."""
    with _lock:
        if fn not in _resolvers:
            _resolvers.append(fn)
    return fn


def resolve_run() -> Run | None:
    """The current run, else the first run a registered resolver finds (None: no run).

    A resolver that raises is skipped (logged): it must not crash the agent's tool call, and
    the caller then opens an implicit run, so nothing goes unrecorded. So is a run that has
    ended (or suspended): its chain is closed, the sequencer would reject an intent recorded
    after its end, and the tool would have run with no intent in the log."""
    found = run_var.get()
    if found is not None and not found.ended:
        return found
    for fn in tuple(_resolvers):
        try:
            found = fn()
        except Exception:
            log.exception("ledger: run resolver %r failed", fn)
            continue
        if found is None:
            continue
        if getattr(found, "ended", True) is False:
            return found
        log.warning("ledger: run resolver %r gave %s, not an open run; skipped", fn,
                    type(found).__name__)
    return None
