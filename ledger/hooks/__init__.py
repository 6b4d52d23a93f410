"""Library hooks: two lines of code to put any Python agent on the ledger.

    with ledger.run(agent="support-bot", user="alice") as run:   # line 1
        ...

    @ledger.tool(side_effect=True)                               # line 2
    def refund(order_id: str, amount: str) -> str: ...

See docs/hooks.md. Everything here is safe to call from any thread or asyncio task.

Names are exported lazily (PEP 562): a read command that only needs one submodule (e.g.
`ledger.hooks.errors` for StopInfo) does not pay for the writer, psycopg's pool and the event
models (issue 18: read commands within 0.5 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.hooks.approvals import Approval, decide
    from ledger.hooks.context import current_run, register_run_resolver
    from ledger.hooks.continuity import (
        PendingApproval,
        find_suspended,
        pending_approvals,
        resume,
    )
    from ledger.hooks.errors import (
        ApprovalRequired,
        LedgerUnavailable,
        LiveControl,
        PolicyDenied,
        RunAlreadyEnded,
        RunExists,
        RunNotFound,
        RunStopped,
    )
    from ledger.hooks.gatetag import GateTask, gate_task
    from ledger.hooks.pricing import PriceTable, default_price_table
    from ledger.hooks.runs import EventRef, Run, run
    from ledger.hooks.setup import configure, get_writer, shutdown
    from ledger.hooks.tooldeco import tool
    from ledger.hooks.tools import ToolCall

__all__ = [
    "Approval",
    "ApprovalRequired",
    "EventRef",
    "GateTask",
    "LedgerUnavailable",
    "LiveControl",
    "PendingApproval",
    "PolicyDenied",
    "PriceTable",
    "Run",
    "RunAlreadyEnded",
    "RunExists",
    "RunNotFound",
    "RunStopped",
    "ToolCall",
    "configure",
    "current_run",
    "decide",
    "default_price_table",
    "find_suspended",
    "flush",
    "gate_task",
    "get_writer",
    "pending_approvals",
    "register_run_resolver",
    "resume",
    "run",
    "shutdown",
    "tool",
]

_WHERE = {
    "Approval": "approvals", "decide": "approvals",
    "current_run": "context", "register_run_resolver": "context",
    "PendingApproval": "continuity", "find_suspended": "continuity",
    "pending_approvals": "continuity", "resume": "continuity",
    "ApprovalRequired": "errors", "LedgerUnavailable": "errors", "LiveControl": "errors",
    "PolicyDenied": "errors", "RunAlreadyEnded": "errors", "RunExists": "errors",
    "RunNotFound": "errors", "RunStopped": "errors",
    "PriceTable": "pricing", "default_price_table": "pricing",
    "GateTask": "gatetag", "gate_task": "gatetag",
    "EventRef": "runs", "Run": "runs", "run": "runs",
    "configure": "setup", "get_writer": "setup", "shutdown": "setup",
    "tool": "tooldeco",
    "ToolCall": "tools",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'ledger.hooks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ledger.hooks.{where}"), name)
    globals()[name] = value  # a submodule named like the attribute (`run`) must not shadow it
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def flush(timeout: float = 30.0) -> bool:
    """Block until every event recorded so far is durable; False if some are only spooled."""
    from ledger.hooks.setup import get_writer

    return get_writer().flush(timeout)
