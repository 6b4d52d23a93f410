"""Paused attempts: a tool call an interrupt stopped to ask for its own approval.

LangGraph's `interrupt()` inside a tool ends the tool's first attempt (not ok) and records an
approval request for that very call; once decided, the framework runs the call again from its
start. The attempt that must have been approved is the one that ran after the decision; the
paused one asked for it, so the approval rules skip it instead of reporting it as executed
without an approval.
"""

from __future__ import annotations

from replay.model import RunState, ToolCallRecord

__all__ = ["paused"]


def paused(call: ToolCallRecord, state: RunState) -> bool:
    """An attempt an interrupt paused for approval (LangGraph's `interrupt()` inside a tool): it
    ended, not ok, and an approval of that very call was requested after it started and before
    the call started again. The framework runs the call again from its start once decided; that
    attempt is the one that must have been approved, the paused one asked for it."""
    if call.ended_seq is None or call.status == "ok":
        return False
    again = min((c.started_seq for c in state.tool_calls if c.tool_call_id == call.tool_call_id
                 and c.started_seq > call.started_seq), default=None)
    return any(a.tool_call_id == call.tool_call_id and a.requested_seq is not None
               and a.requested_seq > call.started_seq
               and (again is None or a.requested_seq < again) for a in state.approvals)
