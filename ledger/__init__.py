"""agent-ledger: a tamper-evident audit ledger for AI agents.

Two lines put an agent on the ledger:

    import ledger

    with ledger.run(agent="support-bot", user="alice@example.com") as run:
        ...

    @ledger.tool(side_effect=True)
    def refund(order_id: str, amount_usd: str) -> str: ...

Names are exported lazily (PEP 562) so `import ledger` stays cheap for the CLI and for tools that
only need the event model.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Approval",
    "ApprovalRequired",
    "LedgerUnavailable",
    "LiveControl",
    "PendingApproval",
    "PolicyDenied",
    "Run",
    "RunAlreadyEnded",
    "RunExists",
    "RunNotFound",
    "RunStopped",
    "ToolCall",
    "configure",
    "current_run",
    "decide",
    "find_suspended",
    "flush",
    "gate_task",
    "pending_approvals",
    "register_run_resolver",
    "resume",
    "run",
    "shutdown",
    "tool",
]

_HOOKS = set(__all__)


def __getattr__(name: str) -> Any:
    if name in _HOOKS:
        return getattr(importlib.import_module("ledger.hooks"), name)
    raise AttributeError(f"module 'ledger' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
