"""Signed approvals: the exact bytes an approver signs, and the check replay makes of them.

Why these fields: an approval is evidence only for the call it names. The signature covers the
log origin, the run and `tool_call_id` of the call, the tool, the args hash the approver saw
(for an edit, the hash of the edited args), the decision, its expiry, the approver's id and the
content address of the registry the approver acted under. A writer can copy the event, but not
move the signature to another call, other args, another run or another log, and cannot make one
for a principal whose key it does not hold. Replay rebuilds the claim from the *record* (the
call's recorded args, the run it sits in), never from the event's own fields, before verifying.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from ledger.canonical import canonical_bytes
from ledger.note import Signer, Verifier

__all__ = ["APPROVAL_DOMAIN", "ApprovalClaim", "SignedApproval", "sign_approval", "verify_approval"]

APPROVAL_DOMAIN = "agent-ledger/approval/v1"


@dataclass(frozen=True, slots=True)
class ApprovalClaim:
    """What an approver vouches for: one decision on one call with one set of args."""

    origin: str
    run_id: uuid.UUID
    tool_call_id: str
    tool: str
    args_hash: str
    decision: str
    expires_at: str | None
    approver: str
    registry: str

    def message(self) -> bytes:
        """RFC 8785 canonical bytes of the claim, domain-separated (built by hand: `ledger
        check` verifies one per approval and `dataclasses.asdict` was half of that cost)."""
        return canonical_bytes({
            "domain": APPROVAL_DOMAIN, "origin": self.origin, "run_id": str(self.run_id),
            "tool_call_id": self.tool_call_id, "tool": self.tool, "args_hash": self.args_hash,
            "decision": self.decision, "expires_at": self.expires_at, "approver": self.approver,
            "registry": self.registry,
        })


@dataclass(frozen=True, slots=True)
class SignedApproval:
    """The signature fields an `approval.decided` event carries."""

    signing_key: str  # "<key name>+<hex key id>", which key of the approver signed
    signature: str  # base64 Ed25519 signature of ApprovalClaim.message()


def sign_approval(claim: ApprovalClaim, signer: Signer) -> SignedApproval:
    """Sign a claim with the approver's key (a key file or a PKCS#11 token)."""
    raw = signer.sign(claim.message())
    return SignedApproval(
        f"{signer.name}+{signer.key_id.hex()}", base64.b64encode(raw).decode("ascii")
    )


def verify_approval(
    claim: ApprovalClaim, signed: SignedApproval | None, key: Verifier | None
) -> str | None:
    """None when `signed` is `key`'s signature of `claim`; otherwise why not (one line)."""
    if signed is None:
        return "approval is not signed"
    if key is None:
        return f"approver {claim.approver!r} has no approver key in the registry in force"
    if signed.signing_key != f"{key.name}+{key.key_id.hex()}":
        return f"approval signed by key {signed.signing_key!r}, not the registered approver key"
    try:
        raw = base64.b64decode(signed.signature, validate=True)
    except (binascii.Error, ValueError):
        return "approval signature is not base64"
    if not key.verify(claim.message(), raw):
        return "approval signature does not match the call, args, decision or approver"
    return None
