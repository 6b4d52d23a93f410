"""Library hooks: two lines of code to put any Python agent on the ledger.

    with ledger.run(agent="support-bot", user="alice") as run:   # line 1
        ...

    @ledger.tool(side_effect=True)                               # line 2
    def refund(order_id: str, amount: str) -> str: ...

See docs/hooks.md. Everything here is safe to call from any thread or asyncio task.
"""

from __future__ import annotations

from ledger.hooks.approvals import Approval, decide
from ledger.hooks.context import current_run, register_run_resolver
from ledger.hooks.continuity import PendingApproval, find_suspended, pending_approvals, resume
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
from ledger.hooks.pricing import PriceTable, default_price_table
from ledger.hooks.runs import EventRef, Run, run
from ledger.hooks.setup import configure, get_writer, shutdown
from ledger.hooks.tooldeco import tool
from ledger.hooks.tools import ToolCall

__all__ = [
    "Approval",
    "ApprovalRequired",
    "EventRef",
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
    "get_writer",
    "pending_approvals",
    "register_run_resolver",
    "resume",
    "run",
    "shutdown",
    "tool",
]


def flush(timeout: float = 30.0) -> bool:
    """Block until every event recorded so far is durable; False if some are only spooled."""
    return get_writer().flush(timeout)
