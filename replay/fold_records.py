"""Builders of the fold (replay.state) kept apart so replay/state.py stays small: the
approval.decided builder (also used for decisions recorded in other runs) and tool.call.started
(every start kept, see `tool_started`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replay.model import GapRecord

if TYPE_CHECKING:
    from ledger.events import EventBase

__all__ = ["approval_decided", "tool_started"]


def approval_decided(
    approvals: dict[str, dict[str, Any]],
    data: Any,
    eid: str,
    seq: int,
    ns: int,
    *,
    from_run: str | None,
    rec: int | None = None,
    imported: bool = False,
) -> None:
    a = approvals.setdefault(data.approval_id, {})
    a.setdefault("approval_id", data.approval_id)
    a.setdefault("tool_call_id", data.tool_call_id)
    a.setdefault("tool", None)
    a.setdefault("args_hash", data.args_hash)
    a.update(
        decision=data.decision,
        decided_event_id=eid,
        decided_seq=seq,
        decided_ns=ns,
        decided_args_hash=data.args_hash,
        edited_args_hash=data.edited_args_hash,
        approver_id=data.approver.id,
        approver_roles=data.approver.roles,
        reason=data.reason,
        decided_run_id=from_run,
        signature=data.signature,
        signing_key=data.signing_key,
        signed_tool=data.tool,
        call_run_id=None if data.call_run_id is None else str(data.call_run_id),
        expires_at=data.expires_at,
        registry_hash=data.registry_hash,
        decided_rec_ns=rec,
        imported=imported,  # copied from a trace by `ledger import`, not witnessed (policy sees it)
    )


def tool_started(f: Any, event: EventBase, data: Any) -> str:
    """tool.call.started: every start is kept; a reused (tool_call_id, attempt) is a capture
    fault (a gap enforcement.decisions fails on), never an overwrite hiding the first call."""
    key = (data.tool_call_id, data.attempt)
    if key in f.tools:  # every start is kept: a reused (id, attempt) is a capture fault
        f.gaps.append(GapRecord(f.eid, f"tool.call.started {data.tool_call_id} attempt "
                                       f"{data.attempt} reuses a started call", None, None))
        f.tools = {(data.tool_call_id, -f.seq) if k == key else k: v for k, v in f.tools.items()}
    f.tools[key] = {
        "tool_call_id": data.tool_call_id,
        "tool": data.tool,
        "attempt": data.attempt,
        "args": data.args,
        "args_hash": data.args_hash,
        "side_effect": data.side_effect,
        "tool_version": data.tool_version,
        "contract_digest": data.contract_digest or event.versions.tool_contract_digest,
        "started_event_id": f.eid,
        "started_seq": f.seq,
        "started_ns": f.ns,
        "started_rec_ns": f.rec,
    }
    f.latest_attempt[data.tool_call_id] = data.attempt
    return f"{data.tool} attempt {data.attempt}"
