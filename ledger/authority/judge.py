"""The one rule that judges a signed approval, shared by replay and the offline bundle verifier.

Why shared: replay (against the database) and `ledger verify-bundle` (against a bundle, with no
database code) must reach the same verdict on the same decision, so the rule is written once.
It is pure: the caller rebuilds the call from its own record (the run the call sits in, the call's
tool, the args hash recomputed from its recorded args) and brings the registry history judged
against its own trust root. The event's own fields are used only for what the record cannot say
(the decision, the approver, the expiry, which registry the approver acted under, the signature).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.authority.approvals import ApprovalClaim, SignedApproval, verify_approval
from ledger.authority.history import InForce, RegistryHistory
from ledger.bodyrules import not_fully_recorded
from ledger.canonical import content_hash
from ledger.note import Verifier

__all__ = [
    "NOT_IN_FORCE",
    "DecisionOnRecord",
    "SignatureJudgement",
    "judge_decision",
    "not_fully_recorded",
    "recorded_hash",
]

NOT_IN_FORCE = "approval signed under a registry that was not in force"

KeyOf = Callable[[InForce, str], Verifier | None]


def recorded_hash(args: Any) -> str | None:
    """The args hash recomputed from recorded args (`ledger.events.args_hash`), or None when
    they are not all recorded."""
    return None if not_fully_recorded(args) else content_hash(args)


@dataclass(frozen=True, slots=True)
class SignatureJudgement:
    """The registry in force at the decision, and why the signature does not stand (or None)."""

    in_force: InForce
    problem: str | None


@dataclass(frozen=True, slots=True)
class DecisionOnRecord:
    """One `approval.decided`, bound to the call the record says it approves.

    `run_id`, `tool_call_id`, `tool` and `args_hash` come from the record of the call (for an
    edit, `args_hash` is the hash of the edited args); the rest is what the decision says.
    """

    seq: int
    origin: str
    run_id: uuid.UUID
    tool_call_id: str
    tool: str
    args_hash: str
    decision: str
    expires_at: str | None
    approver: str
    registry_hash: str | None
    signing_key: str | None
    signature: str | None

    def claim(self) -> ApprovalClaim:
        return ApprovalClaim(
            origin=self.origin, run_id=self.run_id, tool_call_id=self.tool_call_id,
            tool=self.tool, args_hash=self.args_hash, decision=self.decision,
            expires_at=self.expires_at, approver=self.approver, registry=self.registry_hash or "",
        )


def _registry_key(in_force: InForce, approver: str) -> Verifier | None:
    return in_force.registry.approver_verifier(approver) if in_force.registry else None


def judge_decision(
    history: RegistryHistory, d: DecisionOnRecord, key_of: KeyOf | None = None
) -> SignatureJudgement:
    """Verify `d` against the approver key of the registry in force at its seq.

    The registry it names must be an accepted version published before the decision (a writer
    cannot pick a registry of its liking); without a registry in force (or a trust root) the
    problem is the history's reason, never a pass. `key_of` lets a caller cache parsed keys.
    """
    in_force = history.at(d.seq)
    if in_force.registry is None:
        return SignatureJudgement(in_force, in_force.reason)
    if d.signature is None:
        return SignatureJudgement(in_force, "approval is not signed")
    found = history.by_digest(d.registry_hash) if d.registry_hash else None
    if found is None or found[0] >= d.seq:
        return SignatureJudgement(in_force, NOT_IN_FORCE)
    key = (key_of or _registry_key)(in_force, d.approver)
    signed = SignedApproval(d.signing_key or "", d.signature)
    return SignatureJudgement(in_force, verify_approval(d.claim(), signed, key))
