"""Who judges a run's approvals: the registry history of the run's log, and the signature check.

Why here and not in the rule: the registry history is read once per `ledger check` per log
origin (one query), then every approval of every run of that log is judged against the version
in force at the decision's seq. Why rebuild the claim: an `approval.decided` event is text a
writer chose; its signature is verified over a claim built from the *record* (the log origin,
the run the call sits in, the call's id and tool, the hash recomputed from the call's recorded
args), so a signature copied to another call, run, log or set of args does not verify.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ledger.authority.history import InForce, RegistryHistory
from ledger.authority.judge import (
    NOT_IN_FORCE,
    DecisionOnRecord,
    SignatureJudgement,
    judge_decision,
)
from ledger.authority.service import load_history
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.note import Verifier
from replay.model import ApprovalRecord, RunState, ToolCallRecord

__all__ = [
    "NOT_IN_FORCE",
    "NO_TRUST_NOTE",
    "RunAuthority",
    "SignatureJudgement",
    "judge_approval",
    "load_authority",
]

NO_TRUST_NOTE = f"note: {NO_TRUST_ROOT}: approver roles and signatures are unknown"
_NO_ROOT = InForce("no_trust_root", None, None, None, NO_TRUST_ROOT)


@dataclass(frozen=True)
class RunAuthority:
    """The registry versions of one log (judged against the caller's trust root), its origin."""

    origin: str
    history: RegistryHistory
    _keys: dict[tuple[str, str], Verifier | None] = field(default_factory=dict, repr=False)

    @property
    def trust_root_given(self) -> bool:
        return self.history.root is not None

    def approver_key(self, in_force: InForce, approver: str) -> Verifier | None:
        """The approver's registered key in that version (parsed once per check)."""
        key = (in_force.digest or "", approver)
        if key not in self._keys:
            registry = in_force.registry
            self._keys[key] = registry.approver_verifier(approver) if registry else None
        return self._keys[key]


def load_authority(
    conn: psycopg.Connection[Any], origin: str, root: TrustRoot | None
) -> RunAuthority:
    """The authority of `origin`'s log; without a trust root nothing is read (nothing trusted)."""
    history = load_history(conn, origin, root) if root is not None else RegistryHistory(None)
    return RunAuthority(origin, history)


def judge_approval(
    state: RunState, call: ToolCallRecord, a: ApprovalRecord, recorded_hash: str | None
) -> SignatureJudgement:
    """Verify `a` for `call` against the registry in force at its seq (claim from the record).

    `recorded_hash` is the call's args hash recomputed from its recorded args (None when they
    are not all recorded: then the approved hash is used, and the binding rule says unknown).
    """
    authority: RunAuthority | None = state.authority
    seq = a.decided_seq
    if authority is None or seq is None:
        return SignatureJudgement(_NO_ROOT, NO_TRUST_ROOT)
    approved = a.edited_args_hash if a.decision == "edited" else a.decided_args_hash
    decision = DecisionOnRecord(
        seq=seq,
        origin=authority.origin,
        run_id=uuid.UUID(state.run.run_id) if state.run.run_id else uuid.UUID(int=0),
        tool_call_id=call.tool_call_id,
        tool=call.tool,
        args_hash=recorded_hash or approved or "",
        decision=a.decision or "",
        expires_at=a.expires_at,
        approver=a.approver_id or "",
        registry_hash=a.registry_hash,
        signing_key=a.signing_key,
        signature=a.signature,
    )
    return judge_decision(authority.history, decision, authority.approver_key)
