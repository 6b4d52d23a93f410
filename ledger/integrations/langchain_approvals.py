"""LangGraph interrupts as approvals, per graph thread (ledger/integrations/langchain.py).

Why per thread: one handler serves many concurrent graph runs; a resume of thread A must decide
A's interrupts, never B's. Why bound to the tool call: an `interrupt()` inside a tool pauses that
very call, so the approval carries the model's tool call id, the tool's name (the `@ledger.tool`
name when it is one) and its arguments; the resumed call then runs under the approved id and
`ledger check` joins request, decision and execution.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.hooks.approvals import Approval
from ledger.note import Signer

__all__ = ["Decision", "PendingApprovals", "ToolRun", "decision_of", "interrupt_call"]


@dataclass(frozen=True, slots=True)
class ToolRun:
    """A LangChain tool run in progress: what an interrupt inside it is bound to."""

    name: str
    args: Any
    tool_call_id: str | None
    label: str | None  # the @ledger.tool name, when the tool wraps one


def decision_of(value: Any) -> tuple[str, Any]:
    """Map a resume value to (decision, edited_args); HITL-style dicts and booleans understood."""
    if isinstance(value, bool):
        return ("approved" if value else "rejected"), None
    if isinstance(value, Mapping):
        return (str(value.get("type") or value.get("decision") or "approved"),
                value.get("edited_args") or value.get("args"))
    if isinstance(value, str) and value.lower() in {"reject", "rejected", "no", "deny"}:
        return "rejected", None
    return "approved", None


def interrupt_call(value: Any, tool: ToolRun | None) -> dict[str, Any]:
    """The call an interrupt asks to approve: the tool call it paused, else the call its value
    names (`name`/`tool` and `args`), else a `langgraph.interrupt` call carrying the value."""
    if tool is not None:
        call: dict[str, Any] = {"name": tool.label or tool.name, "args": tool.args}
        if tool.tool_call_id:
            call["id"] = tool.tool_call_id
        return call
    if isinstance(value, Mapping) and ("name" in value or "tool" in value):
        return dict(value)
    return {"name": "langgraph.interrupt", "args": value}


class PendingApprovals:
    """Approvals requested by interrupts and not yet decided, by graph thread id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_thread: dict[str | None, dict[str, Approval]] = {}
        self._asked: set[str] = set()

    def ask(self, interrupt_id: str) -> bool:
        """Whether this interrupt is new (it bubbles through every enclosing chain)."""
        with self._lock:
            if interrupt_id in self._asked:
                return False
            self._asked.add(interrupt_id)
            return True

    def add(self, thread: str | None, approval: Approval) -> None:
        with self._lock:
            self._by_thread.setdefault(thread, {})[approval.approval_id] = approval

    def take(self, thread: str | None, *, every: bool = False) -> dict[str, Approval]:
        """Remove and return the pending approvals of `thread` (of all threads with `every`)."""
        with self._lock:
            if every:
                out = {k: v for d in self._by_thread.values() for k, v in d.items()}
                self._by_thread.clear()
                return out
            return self._by_thread.pop(thread, {})

    def snapshot(self) -> dict[str, Approval]:
        with self._lock:
            return {k: v for d in self._by_thread.values() for k, v in d.items()}


@dataclass(frozen=True, slots=True)
class Decision:
    """How `handler.resume(...)` decides a thread's interrupts when the resume starts."""

    value: Any
    approver: str
    roles: tuple[str, ...]
    decision: str | None = None
    edited_args: Any = None
    signer: Signer | None = None
