"""The registry of compensator functions: what a plan step's `op` runs, and which may be sandboxed.

Why apart from the executor: planning, coverage and dry runs need to know which operations have
an implementation, but must not load the code that writes to the ledger (`--readonly` TUI
sessions plan and dry-run; only `apply` executes). Tool plug-ins register here with
`@compensator(op)`; `replay.undo.executor` looks functions up here when it applies a plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ledger.errors import LedgerError
from replay.undo.probes import UndoContext

__all__ = ["COMPENSATORS", "SANDBOXABLE", "CompensatorFn", "TransientError", "compensator"]

CompensatorFn = Callable[[dict[str, Any], UndoContext], Any]
F = TypeVar("F", bound=CompensatorFn)
COMPENSATORS: dict[str, CompensatorFn] = {}
SANDBOXABLE: set[str] = set()


class TransientError(LedgerError):
    """Raised by a compensator for a failure worth retrying (other exceptions are retried too,
    but a TransientError documents intent)."""


def compensator(op: str, *, sandbox: bool = False) -> Callable[[F], F]:
    """Register `fn(args, ctx)` as the implementation of compensation op `op`.

    `sandbox=True` declares that the function only touches `ctx.conn`, so a dry run may execute
    it inside a transaction that is rolled back."""

    def register(fn: F) -> F:
        COMPENSATORS[op] = fn
        if sandbox:
            SANDBOXABLE.add(op)
        return fn

    return register
