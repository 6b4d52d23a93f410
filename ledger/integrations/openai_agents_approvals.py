"""OpenAI Agents SDK human-in-the-loop: interruptions and decisions on the record.

A tool declared `needs_approval=True` makes `Runner.run` return with `result.interruptions`.
`record_interruptions(result)` records `approval.requested` for each, bound to the model's
`call_id` and the args hash; outside `ledger.run(...)` it also suspends the SDK run's implicit
ledger run (`run.suspended`, resume key `openai-agents:<trace_id>`: the SDK keeps the trace id in
the serialized `RunState` and reuses it on resume). `approve`/`reject` record the decision and
call `RunState.approve/reject`; the pending request is read back from the ledger when this
process did not make it (a web app resuming from a stored state in another worker), and the
suspended run is resumed first, so the decision, the tool call and the rest of the SDK run
continue the same ledger run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agents.items import ToolApprovalItem

from ledger.hooks.approvals import Approval, decide
from ledger.hooks.context import current_run
from ledger.hooks.runs import Run
from ledger.integrations.openai_agents_calls import HOOKS_SCHEMA, MAX_NOTED, SOURCE, parse_args
from ledger.integrations.openai_agents_runs import (
    hold_trace_run,
    open_implicit,
    state_trace_id,
    trace_run,
)
from ledger.note import Signer

__all__ = ["approve", "record_interruptions", "reject"]

_approvals: dict[str, Approval] = {}  # requests made in this process, by the SDK's call_id


def record_interruptions(result: Any, run: Run | None = None,
                         reason: str | None = "tool requires approval") -> list[Approval]:
    """Record approval.requested for each `ToolApprovalItem` in `result.interruptions`.

    Outside `ledger.run(...)` the SDK run's implicit run (opened by `LedgerRunHooks`) records
    them and is suspended, waiting for the decision; without such a run this raises rather
    than record nothing."""
    target = run or current_run()
    trace_id = None
    if target is None:
        trace_id = state_trace_id(result)
        target = trace_run(trace_id)
    if target is None:
        raise RuntimeError("record_interruptions found no ledger run: pass "
                           "hooks=LedgerRunHooks() to Runner.run, or use ledger.run(...) / run=")
    out = []
    for item in getattr(result, "interruptions", ()) or ():
        if not isinstance(item, ToolApprovalItem):
            continue
        call = {"name": item.name or item.tool_name, "args": parse_args(item.arguments),
                "id": item.call_id}
        approval = target.request_approval(call, reason=reason, source=SOURCE,
                                           raw=(HOOKS_SCHEMA, {"call_id": item.call_id,
                                                               "arguments": item.arguments}))
        _approvals[str(item.call_id)] = approval
        while len(_approvals) > MAX_NOTED:
            del _approvals[next(iter(_approvals))]
        out.append(approval)
    if trace_id is not None and out:
        target.suspend("approval", pending=[a.approval_id for a in out])
        target.end()  # records run.suspended: the run stays open, waiting
        hold_trace_run(trace_id, None)
    return out


def _readopt(run: Run, approval: Approval) -> None:
    """Hold `approval` as pending for `run`, the resumed run, replacing the entry its request
    left for the suspended run object (which `adopt` would keep: the decision would then go to
    a single-event run instead of this one)."""
    from ledger.hooks import approvals

    with approvals._lock:
        approvals._pending.pop(approval.approval_id, None)
    approvals.adopt(run, [approval])


def _pending(state: Any, item: ToolApprovalItem, agent: str | None) -> Approval:
    """The approval request for `item`, bound to the run that will carry the decision.

    Made in this process and its run still live: as made. Otherwise the run is the current
    `ledger.run(...)` or the state's implicit run (resumed from the ledger), and the request
    is read back from the ledger by the call's `call_id`."""
    from ledger.hooks.continuity import pending_approvals

    call_id = str(item.call_id)
    made = _approvals.pop(call_id, None)
    run = current_run()
    if run is None:
        trace_id = state_trace_id(state)
        name = agent or getattr(getattr(item, "agent", None), "name", None) or "openai-agents"
        run = open_implicit(trace_id, None, agent=str(name))
    if made is not None and made.run_id == run.run_id and not run.ended:
        _readopt(run, made)
        return made
    for pending in pending_approvals(run.run_id):
        if pending.tool_call_id == call_id:
            approval = Approval(pending.approval_id, pending.tool_call_id, pending.tool,
                                pending.args_hash, parse_args(item.arguments), run.run_id,
                                pending.requested_event_id)
            _readopt(run, approval)
            return approval
    raise LookupError(f"no pending approval request for tool call {call_id!r} in run "
                      f"{run.run_id}: record_interruptions(result) records them")


def approve(state: Any, item: ToolApprovalItem, *, approver: str, roles: Iterable[str] = (),
            always: bool = False, reason: str | None = None,
            signer: Signer | None = None) -> None:
    """Record approval.decided (approved) as `approver`, then `state.approve(item)`.

    With `signer` (the approver's key) the decision is signed (see `ledger.decide`)."""
    approval = _pending(state, item, None)
    decide(approval, approver=approver, roles=roles, decision="approved", reason=reason,
           source=SOURCE, signer=signer)
    state.approve(item, always_approve=always)


def reject(state: Any, item: ToolApprovalItem, *, approver: str, roles: Iterable[str] = (),
           message: str | None = None, always: bool = False,
           signer: Signer | None = None) -> None:
    """Record approval.decided (rejected) as `approver`, then `state.reject(item)`."""
    approval = _pending(state, item, None)
    decide(approval, approver=approver, roles=roles, decision="rejected", reason=message,
           source=SOURCE, signer=signer)
    state.reject(item, always_reject=always, rejection_message=message)
