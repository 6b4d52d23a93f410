"""The one rule that turns a recorded identity token into a registry principal (or not).

Why shared: replay (against the database) and `ledger verify-bundle` (against a bundle's
disclosed tokens, with no database code) must reach the same verdict on the same token, so the
rule is written once. It is pure: the caller brings the token, the registry in force at the seq
of the `run.started` that recorded it (judged against the caller's own trust root) and the
sequencer's `recorded_at` of that event (never the writer's `occurred_at`, which a writer could
backdate to revive an expired token).

The kind rule: a verified token counts for the user slot only if it names a registered `person`,
and for the agent slot only if it names an `agent` or `service`: a workload token in the user
slot (or a person's token in the agent slot) proves nothing about who started the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.authority.history import InForce
from ledger.authority.tokens import TokenRefused, VerifiedIdentity, verify_token

__all__ = [
    "KINDS",
    "TOKEN_ROLES",
    "TokenJudgement",
    "judge_token",
    "token_commitments",
    "token_path",
]

TOKEN_ROLES = ("user", "agent")
KINDS: dict[str, tuple[str, ...]] = {"user": ("person",), "agent": ("agent", "service")}


def token_commitments(slot: Any) -> dict[str, str]:
    """role -> commitment of a `run.started`'s `identity_tokens` attribute (anything else: {})."""
    if not isinstance(slot, dict):
        return {}
    return {
        role: value["$commitment"]
        for role, value in slot.items()
        if role in TOKEN_ROLES and isinstance(value, dict)
        and isinstance(value.get("$commitment"), str)
    }


def token_path(role: str) -> str:
    """The JSON pointer of a role's token inside `run.started` (what its commitment binds)."""
    return f"/data/attributes/identity_tokens/{role}"


@dataclass(frozen=True, slots=True)
class TokenJudgement:
    """A token's verdict: the registry principal it proves (None: asserted), the verified
    claims (None when the token itself did not verify), and the one-line reason."""

    principal: str | None
    verified: VerifiedIdentity | None
    reason: str

    @property
    def is_verified(self) -> bool:
        return self.principal is not None


def judge_token(token: str, in_force: InForce, role: str, at_ns: int | None) -> TokenJudgement:
    """Verify `token` for `role` against the providers of the registry `in_force`, at `at_ns`,
    and map it to a registered principal of an allowed kind. Reasons start with `role: `."""
    if in_force.registry is None or at_ns is None:
        why = in_force.reason if in_force.registry is None else "no recorded time to judge it at"
        return TokenJudgement(None, None, f"{role}: token not verifiable: {why}")
    try:
        found = verify_token(token, in_force.registry.providers, at_ns=at_ns)
    except TokenRefused as exc:
        return TokenJudgement(None, None, f"{role}: token refused: {exc}")
    principal = in_force.registry.principal_for_token(found.issuer, found.subject)
    what = f"{role}: token of {found.issuer} for {found.subject!r}"
    kinds = KINDS[role]
    if principal is None or principal.kind not in kinds:
        named = f"names {principal.kind} {principal.id!r}" if principal else "names no principal"
        return TokenJudgement(
            None, found, f"{what} verified, but it {named} registered as {' or '.join(kinds)}"
        )
    return TokenJudgement(principal.id, found, f"{what} verified")
