"""The run in force for the current task or thread, carried by a ContextVar.

A ContextVar (not a thread-local) is what makes identity follow the agent into asyncio tasks
and `contextvars.copy_context()` thread pools, so every event a tool or integration records
carries the initiating user, roles, agent and versions of the run that caused it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.hooks.runs import Run

__all__ = ["current_run", "run_var"]

run_var: ContextVar[Run | None] = ContextVar("ledger_run", default=None)


def current_run() -> Run | None:
    """The innermost active `ledger.run(...)` in this context, or None."""
    return run_var.get()
