"""Approvals bound to the exact call: `run.request_approval(...)` and `ledger.decide(...)`.

An approval is only evidence if it names the call it approved: the `tool_call_id` *and* the
`args_hash` of the arguments the approver saw. `decide` records the approver's identity and
roles (no framework captures them). An approved (or edited) decision is remembered by the run,
so the next decorated call of that tool with exactly those arguments reuses the approved
`tool_call_id`, and the audit can join request, decision and execution without guesswork.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from ledger import ids
from ledger.events import args_hash as hash_args
from ledger.hooks.sanitize import json_safe

if TYPE_CHECKING:
    from ledger.hooks.runs import Run
    from ledger.note import Signer

__all__ = ["Approval", "decide", "request_approval"]

Decision = Literal["approved", "rejected", "edited"]
_ALIASES: dict[str, Decision] = {
    "approve": "approved", "approved": "approved", "accept": "approved", "yes": "approved",
    "reject": "rejected", "rejected": "rejected", "deny": "rejected", "no": "rejected",
    "edit": "edited", "edited": "edited",
}


@dataclass(frozen=True, slots=True)
class Approval:
    """A pending approval: what was asked, bound to the exact call."""

    approval_id: str
    tool_call_id: str
    tool: str
    args_hash: str
    args: Any
    run_id: UUID
    event_id: UUID


_lock = threading.Lock()
_pending: dict[str, tuple[Approval, weakref.ref[Run]]] = {}


def _call_parts(tool_call: Any, args: Any) -> tuple[str, Any, str | None]:
    """(tool, args, tool_call_id) from a ToolCall, a LangChain-style dict, or an object."""
    if isinstance(tool_call, str):
        return tool_call, args, None
    def get(key: str) -> Any:
        if isinstance(tool_call, Mapping):
            return tool_call.get(key)
        return getattr(tool_call, key, None)

    name = get("tool") or get("name")
    call_args = get("args") if get("args") is not None else get("arguments")
    return str(name), call_args if args is None else args, get("tool_call_id") or get("id")


def request_approval(
    run: Run, tool_call: Any, args: Any = None, *, reason: str | None = None,
    required_roles: Iterable[str] = (), amount_usd: str | None = None,
    approval_id: str | None = None, raw: tuple[str, Any] | None = None,
    source: Mapping[str, str] | None = None,
) -> Approval:
    """Record approval.requested for `tool_call` (a ToolCall, dict with name/args/id, or name)."""
    tool, call_args, tool_call_id = _call_parts(tool_call, args)
    safe = json_safe(call_args)
    digest = hash_args(safe)
    approval = Approval(approval_id or str(ids.new_id()), tool_call_id or str(ids.new_id()),
                        tool, digest, safe, run.run_id, ids.new_id())
    data = {"approval_id": approval.approval_id, "tool_call_id": approval.tool_call_id,
            "tool": tool, "args_hash": digest, "args": safe, "reason": reason,
            "required_roles": list(required_roles), "amount_usd": amount_usd}
    ref = run.record("approval.requested", data, raw=raw, source=source)
    approval = Approval(approval.approval_id, approval.tool_call_id, tool, digest, safe,
                        run.run_id, ref.event_id)
    with _lock:
        _pending[approval.approval_id] = (approval, weakref.ref(run))
    return approval


def adopt(run: Run, approvals: Iterable[Approval]) -> None:
    """Hold `approvals` (read from the ledger) as pending in this process for `run`, a resumed
    run: `decide(approval_id, ...)` then records the decision in that run and binds the
    approved call's retry to its tool_call_id, as if the request had been made here."""
    with _lock:
        for approval in approvals:
            held = _pending.get(approval.approval_id)
            before = held[1]() if held is not None else None
            if before is None or before.ended:  # the suspended run object: the resumed one
                _pending[approval.approval_id] = (approval, weakref.ref(run))


def decide(
    approval_id: str | Approval, *, approver: str, roles: Iterable[str] = (),
    decision: str = "approved", edited_args: Any = None, reason: str | None = None,
    signature: str | None = None, tool_call_id: str | None = None, args_hash: str | None = None,
    raw: tuple[str, Any] | None = None, source: Mapping[str, str] | None = None,
    signer: Signer | None = None, expires_at: str | None = None,
    registry_hash: str | None = None, trust_root: str | None = None,
) -> UUID:
    """Record approval.decided; returns its event id.

    Recorded in the requesting run while it is live in this process. Otherwise (the decision
    comes from another process, or after the run ended) it is a single-event run, which then
    needs `tool_call_id` and `args_hash` to stay bound to the call.

    With `signer` (the approver's key), the decision is signed over the same claim `ledger
    approve` signs (ledger.authority.decide): the run's log origin, the call, the recorded args
    hash (the edited one for edits), the decision, `expires_at`, the approver and the registry in
    force, read with the run's writer settings and the trust root (`trust_root`, else
    $LEDGER_TRUST_ROOT). A hook without database access passes `registry_hash` instead. Signed
    decisions record no roles: the registry in force says who holds which. Without `signer`
    the decision is recorded unsigned, which replay treats as unverified.
    """
    from ledger.hooks.runs import Run  # runs imports this module: import lazily

    key = approval_id.approval_id if isinstance(approval_id, Approval) else approval_id
    with _lock:
        entry = _pending.pop(key, None)
    approval = entry[0] if entry else None
    run = entry[1]() if entry else None
    verdict = _ALIASES.get(decision.lower())
    if verdict is None:
        raise ValueError(f"decision must be approved, rejected or edited, not {decision!r}")
    if edited_args is not None and verdict == "approved":
        verdict = "edited"
    call_id = approval.tool_call_id if approval else tool_call_id
    bound_hash = approval.args_hash if approval else args_hash
    if call_id is None or bound_hash is None:
        raise ValueError(f"approval {key!r} is not pending in this process; pass tool_call_id "
                         "and args_hash to bind the decision to the call")
    edited_safe = json_safe(edited_args) if edited_args is not None else None
    edited_hash = hash_args(edited_safe) if edited_args is not None else None
    data = {"approval_id": key, "tool_call_id": call_id, "args_hash": bound_hash,
            "decision": verdict, "approver": {"id": approver, "roles": list(roles)},
            "edited_args": edited_safe, "edited_args_hash": edited_hash, "reason": reason,
            "signature": signature}
    if signer is not None:
        bound = approval or (approval_id if isinstance(approval_id, Approval) else None)
        if bound is None:
            raise ValueError(f"approval {key!r} is not pending in this process; sign it with "
                             "`ledger approve` (it reads the recorded request)")
        try:
            data = _signed_data(bound, run, verdict=verdict, approver=approver, signer=signer,
                                edited=edited_safe, reason=reason,
                                ctx=SigningContext(expires_at, registry_hash, trust_root))
        except Exception:
            if entry is not None:  # refused: the approval stays pending, nothing recorded
                with _lock:
                    _pending[key] = entry
            raise
    caused_by = {"caused_by": str(approval.event_id)} if approval else None
    target = run if run is not None and not run.ended else None
    if target is None:
        target = Run(agent="ledger.approvals", user=approver, roles=roles,
                     tenant=run.tenant if run is not None else None)
        target.started = True  # a bare single-event run: no run.started/run.ended pair
    ref = target.record("approval.decided", data, raw=raw, source=source, correlation=caused_by)
    if approval is not None and run is target and verdict != "rejected":
        final_hash = edited_hash or bound_hash
        with run._lock:
            run.approved[(approval.tool, final_hash)] = call_id
    return ref.event_id


@dataclass(frozen=True, slots=True)
class SigningContext:
    """What a signed decision needs beyond the call: its expiry and the registry it acts under."""

    expires_at: str | None
    registry_hash: str | None
    trust_root: str | None


def _registry_for(
    run: Run | None, approver: str, signer: Signer, origin: str, ctx: SigningContext
) -> tuple[str, str]:
    """(registry hash, registered approver id): the registry in force, read and checked now."""
    if ctx.registry_hash is not None:
        return ctx.registry_hash, approver
    from ledger.authority.decide import check_approver, registry_now
    from ledger.authority.trust import trust_root
    from ledger.db.connect import connect
    from ledger.hooks.setup import get_writer

    settings = run.writer.settings if run is not None else get_writer().settings
    with connect(settings, migrate=False) as conn:
        now = registry_now(conn, origin, trust_root(ctx.trust_root))
    return str(now.digest), check_approver(now, approver, signer).id


def _signed_data(
    approval: Approval, run: Run | None, *, verdict: Decision, approver: str, signer: Signer,
    edited: Any, reason: str | None, ctx: SigningContext,
) -> dict[str, Any]:
    """The signed `approval.decided` data, built exactly as ledger.authority.decide builds it."""
    from ledger.authority.approvals import ApprovalClaim, sign_approval
    from ledger.authority.decide import decided_data
    from ledger.hooks.setup import get_writer

    writer = run.writer if run is not None else get_writer()
    origin = writer.settings.origin(run.tenant if run is not None else None)
    registry, who = _registry_for(run, approver, signer, origin, ctx)
    claim = ApprovalClaim(
        origin=origin, run_id=approval.run_id, tool_call_id=approval.tool_call_id,
        tool=approval.tool,
        args_hash=hash_args(edited) if edited is not None else approval.args_hash,
        decision=verdict, expires_at=ctx.expires_at, approver=who, registry=registry,
    )
    return decided_data(claim, sign_approval(claim, signer), approval_id=approval.approval_id,
                        bound_hash=approval.args_hash, edited_args=edited, reason=reason)
