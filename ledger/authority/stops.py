"""Signed stops and lifts: the bytes a principal signs, the check made of them, the grant judge.

Why signed: a stop halts agents of a whole scope and a lift lets them run again, so with a
registry in force both must be provably the act of a principal the registry allows, not of
whoever holds an operator connection. The claim covers the action (`stop` or `resume`), the
log origin (a stop applies to its own tenant only), the target, the reason, the principal, the
content address of the registry in force and the time it was issued; a copy cannot be moved to
another target, log or action. The key is the principal's registered `approver_key` (made by
`ledger keys approver NAME`).

Grants: `stop` grants judge stops, `resume` grants judge lifts; a principal may act on a target
when a grant matches the target string itself or `tenant:<tenant>` (a tenant grant covers every
target within that tenant).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from ledger.authority.registry import Registry
from ledger.canonical import canonical_bytes
from ledger.note import Signer, Verifier

__all__ = [
    "STOP_DOMAIN",
    "SignedStop",
    "StopAction",
    "StopClaim",
    "granted_scope",
    "may_act",
    "sign_stop",
    "verify_stop",
]

STOP_DOMAIN = "agent-ledger/stop/v1"
StopAction = Literal["stop", "resume"]


@dataclass(frozen=True, slots=True)
class StopClaim:
    """What a principal vouches for: one stop (or lift) of one target in one log."""

    action: StopAction
    origin: str
    target: str
    reason: str
    principal: str
    registry: str
    issued_at: str

    def message(self) -> bytes:
        """RFC 8785 canonical bytes of the claim, domain-separated."""
        return canonical_bytes({
            "domain": STOP_DOMAIN, "action": self.action, "origin": self.origin,
            "target": self.target, "reason": self.reason, "principal": self.principal,
            "registry": self.registry, "issued_at": self.issued_at,
        })  # fmt: skip


@dataclass(frozen=True, slots=True)
class SignedStop:
    """The signature fields a run.stop.requested / run.stop.lifted event carries."""

    signing_key: str  # "<key name>+<hex key id>"
    signature: str  # base64 Ed25519 signature of StopClaim.message()


def sign_stop(claim: StopClaim, signer: Signer) -> SignedStop:
    """Sign a claim with the principal's key (a key file or a PKCS#11 token)."""
    raw = signer.sign(claim.message())
    return SignedStop(f"{signer.name}+{signer.key_id.hex()}", base64.b64encode(raw).decode())


def verify_stop(claim: StopClaim, signed: SignedStop | None, key: Verifier | None) -> str | None:
    """None when `signed` is `key`'s signature of `claim`; otherwise why not (one line)."""
    if signed is None:
        return f"{claim.action} is not signed"
    if key is None:
        return f"principal {claim.principal!r} has no approver key in the registry in force"
    if signed.signing_key != f"{key.name}+{key.key_id.hex()}":
        return f"{claim.action} signed by key {signed.signing_key!r}, not the registered key"
    try:
        raw = base64.b64decode(signed.signature, validate=True)
    except (binascii.Error, ValueError):
        return f"{claim.action} signature is not base64"
    if not key.verify(claim.message(), raw):
        return f"{claim.action} signature does not match the target, reason or principal"
    return None


def granted_scope(
    registry: Registry, action: StopAction, principal: str, target: str, tenant: str
) -> str | None:
    """The scope (`target` or `tenant:<tenant>`) a grant lets `principal` act on, or None."""
    grants = registry.stop if action == "stop" else registry.resume
    for scope in dict.fromkeys((target, f"tenant:{tenant}")):
        if registry.allows(grants, principal, scope):
            return scope
    return None


def may_act(
    registry: Registry, action: StopAction, principal: str, target: str, tenant: str
) -> tuple[str, Verifier] | str:
    """(granted scope, the principal's approver key), or why not: the one judgement of a stop
    or a lift, made by `ledger stop` / `ledger resume` before signing and by the console's
    "who may stop" list (ledger.authority.stoppers)."""
    scope = granted_scope(registry, action, principal, target, tenant)
    if scope is None:
        return f"no {action} grant"
    verifier = registry.approver_verifier(principal)
    if verifier is None:
        return "no approver key"
    return scope, verifier
