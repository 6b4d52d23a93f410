"""Deciding an approval with a signature: the one path `ledger approve`, the TUI and the demo use.

Why one path: a signed approval is only worth what the claim it signs says. If the CLI, the TUI
and the API each built the claim their own way, one of them would sooner or later sign the
writer's `args_hash` instead of the hash of the recorded args, or the wrong run. Here the claim
is built from the *recorded* `approval.requested` event (its run, tool, call and args, the hash
recomputed), the registry in force now, and the approver's own key.

Every check made here is a fast fail for the operator: replay re-checks all of it from the
record, against the registry in force at the decision's seq, and a writer could skip this code
entirely. Refusals are one line and record nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import psycopg

from ledger import ids
from ledger.authority.approvals import ApprovalClaim, SignedApproval, sign_approval
from ledger.authority.history import InForce
from ledger.authority.registry import Principal
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.errors import InputError
from ledger.events import ApprovalRequestedData, args_hash
from ledger.hooks.sanitize import json_safe
from ledger.note import Signer

__all__ = [
    "ApprovalRequest",
    "DecisionRefused",
    "SignedDecision",
    "approval_request",
    "check_approver",
    "decide_signed",
    "decided_data",
    "registry_now",
]

Decision = Literal["approved", "rejected", "edited"]


class DecisionRefused(InputError):
    """A decision that would not verify (or names nothing to decide): refused, nothing recorded."""

    label = "refused"


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """The recorded `approval.requested` an approver decides on: where it is and what it asks."""

    approval_id: str
    run_id: uuid.UUID
    event_id: uuid.UUID
    origin: str
    seq: int
    data: ApprovalRequestedData


@dataclass(frozen=True, slots=True)
class SignedDecision:
    """What `decide_signed` recorded: the event, the claim signed and the signature."""

    event_id: uuid.UUID
    origin: str
    claim: ApprovalClaim
    signed: SignedApproval
    registry_version: int


def approval_request(
    conn: psycopg.Connection, origin: str, approval_id: str
) -> ApprovalRequest:
    """The one sequenced request with this id in `origin`'s log (refused if none or several)."""
    from ledger.store.read import approval_requests

    found = approval_requests(conn, origin, approval_id)
    if not found:
        raise DecisionRefused(f"no approval.requested with id {approval_id!r} in {origin}")
    if len(found) > 1:
        seqs = ", ".join(str(s.seq) for s in found)
        raise DecisionRefused(f"approval id {approval_id!r} is requested more than once "
                              f"(seqs {seqs}); the record is ambiguous")
    stored = found[0]
    event = stored.event
    if not isinstance(event.data, ApprovalRequestedData):  # pragma: no cover - query's type
        raise DecisionRefused(f"event at seq {stored.seq} is not an approval.requested")
    return ApprovalRequest(approval_id, event.run_id, event.event_id, stored.origin,
                           stored.seq, event.data)


def registry_now(conn: psycopg.Connection, origin: str, root: TrustRoot | None) -> InForce:
    """The registry in force after the last publication, or a refusal saying why there is none."""
    from ledger.authority.service import load_history

    now = load_history(conn, origin, root).latest()
    if now.registry is None or now.digest is None:
        raise DecisionRefused(f"cannot sign an approval: {now.reason}")
    return now


def check_approver(now: InForce, approver: str, signer: Signer) -> Principal:
    """The registered approver `signer` may sign for, or a one-line refusal (a fast fail only)."""
    registry = now.registry
    found = registry.principal(approver) if registry is not None else None
    if found is None:
        raise DecisionRefused(f"approver {approver!r} is not in the registry in force "
                              f"({now.reason})")
    if found.approver_key is None:
        raise DecisionRefused(f"approver {found.id!r} has no approver key in the registry in force")
    assert registry is not None
    key = registry.approver_verifier(found.id)
    if key is None or (key.name, key.public_key) != (signer.name, signer.public_key):
        raise DecisionRefused(
            f"key {signer.name}+{signer.key_id.hex()} is not the registered approver key of "
            f"{found.id!r}"
        )
    return found


def _verdict(decision: str, edited_args: Any) -> Decision:
    if decision not in ("approved", "rejected", "edited"):
        raise InputError(f"decision must be approved, rejected or edited, not {decision!r}")
    if edited_args is not None and decision == "rejected":
        raise InputError("a rejection carries no edited args")
    if edited_args is not None:
        return "edited"
    if decision == "edited":
        raise InputError("an edited decision needs the edited args")
    return "approved" if decision == "approved" else "rejected"


def _recorded_hash(request: ApprovalRequest) -> str:
    """The args hash recomputed from the request's recorded args, which must match its field."""
    recorded = args_hash(request.data.args)
    if recorded != request.data.args_hash:
        raise DecisionRefused(
            f"approval {request.approval_id!r}: its recorded args hash to {recorded[:16]}, not "
            f"the requested args_hash {request.data.args_hash[:16]} (args not fully recorded, "
            "or altered); refusing to sign"
        )
    return recorded


def decided_data(
    claim: ApprovalClaim, signed: SignedApproval, *, approval_id: str, bound_hash: str,
    edited_args: Any = None, reason: str | None = None,
) -> dict[str, Any]:
    """The `approval.decided` data for a signed claim (roles are the registry's, never here)."""
    edited = claim.decision == "edited"
    return {
        "approval_id": approval_id, "tool_call_id": claim.tool_call_id, "args_hash": bound_hash,
        "decision": claim.decision, "approver": {"id": claim.approver, "roles": []},
        "edited_args": edited_args if edited else None,
        "edited_args_hash": claim.args_hash if edited else None, "reason": reason,
        "signature": signed.signature, "tool": claim.tool, "call_run_id": str(claim.run_id),
        "expires_at": claim.expires_at, "registry_hash": claim.registry,
        "signing_key": signed.signing_key,
    }


def decide_signed(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    approval_id: str,
    approver: str,
    decision: str,
    signer: Signer,
    root: TrustRoot | None,
    expires_in: timedelta | None = None,
    edited_args: Any = None,
    reason: str | None = None,
    tenant: str | None = None,
) -> SignedDecision:
    """Sign `approver`'s decision on a recorded request and append it as a single-event run."""
    from ledger.store.door import append, single_event
    from ledger.store.sequencer import try_sequence

    verdict = _verdict(decision, edited_args)
    origin = settings.origin(tenant)
    try_sequence(conn, settings, wait=True)  # a request a hook left in intake is decidable now
    request = approval_request(conn, origin, approval_id)
    now = registry_now(conn, origin, root)
    who = check_approver(now, approver, signer)
    bound = _recorded_hash(request)
    edited = json_safe(edited_args) if verdict == "edited" else None
    expires = None
    if expires_in is not None:
        expires = ids.format_timestamp(ids.now_ns() + int(expires_in.total_seconds() * 1e9))
    claim = ApprovalClaim(
        origin=request.origin, run_id=request.run_id, tool_call_id=request.data.tool_call_id,
        tool=request.data.tool, args_hash=args_hash(edited) if edited is not None else bound,
        decision=verdict, expires_at=expires, approver=who.id, registry=str(now.digest),
    )
    signed = sign_approval(claim, signer)
    data = decided_data(claim, signed, approval_id=approval_id, bound_hash=bound,
                        edited_args=edited, reason=reason)
    event = single_event("approval.decided", data, tenant=tenant,
                         correlation={"caused_by": str(request.event_id)})
    append(conn, [event], settings)
    version = now.registry.version if now.registry is not None else 0
    return SignedDecision(event.event_id, request.origin, claim, signed, version)
