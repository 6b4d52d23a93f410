"""The registry of compensator functions: what a plan step's `op` runs, and which may be sandboxed.

Why apart from the executor: planning, coverage and dry runs need to know which operations have
an implementation, but must not load the code that writes to the ledger (`--readonly` TUI
sessions plan and dry-run; only `apply` executes). Tool plug-ins register here with
`@compensator(op)`; `replay.undo.executor` looks functions up here when it applies a plan.
A compensator that talks to an endpoint other than the target database (a mail relay) registers
a `reach` check: a read-only "can I connect" the dry run asks, so a step whose endpoint is not
configured or not reachable is shown as such instead of "would run" (INCIDENT18 #4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ledger.errors import LedgerError
from replay.undo.probes import UndoContext

__all__ = [
    "COMPENSATORS",
    "REACH",
    "SANDBOXABLE",
    "CompensatorFn",
    "ReachFn",
    "TransientError",
    "compensator",
]

CompensatorFn = Callable[[dict[str, Any], UndoContext], Any]
ReachFn = Callable[[UndoContext], str | None]  # None: reachable; else why not, with the fix
F = TypeVar("F", bound=CompensatorFn)
COMPENSATORS: dict[str, CompensatorFn] = {}
SANDBOXABLE: set[str] = set()
REACH: dict[str, ReachFn] = {}


class TransientError(LedgerError):
    """Raised by a compensator for a failure worth retrying (other exceptions are retried too,
    but a TransientError documents intent)."""


def compensator(
    op: str, *, sandbox: bool = False, reach: ReachFn | None = None
) -> Callable[[F], F]:
    """Register `fn(args, ctx)` as the implementation of compensation op `op`.

    `sandbox=True` declares that the function only touches `ctx.conn`, so a dry run may execute
    it inside a transaction that is rolled back. `reach(ctx)` checks, without side effects,
    that the endpoint the function needs is configured and accepts a connection."""

    def register(fn: F) -> F:
        COMPENSATORS[op] = fn
        if sandbox:
            SANDBOXABLE.add(op)
        if reach is not None:
            REACH[op] = reach
        return fn

    return register
