"""Parts the after-the-fact engine and the pre-call evaluator share: approval rule ids, the
scrubbed-secret detector, and an approver's roles as the registry grants them.

Their own module so `replay.policy.engine` (which compiles the enforcement rule) and
`replay.policy.precall` / `replay.policy.enforcement` (which it compiles) import them from below
instead of from each other.
"""

from __future__ import annotations

import re

from ledger.secrets import SECRET_MARKER
from replay.authority import judge_approval
from replay.model import ApprovalRecord, RunState
from replay.policy.recorded import recorded_args_hash
from replay.policy.schema import PolicyPack

__all__ = ["SCRUBBED", "approval_ids", "registry_roles"]

# A secret scrubbed at capture (ledger.secrets) left its marker where it was: egress of it is
# still egress of a secret, whichever detector the pack names.
SCRUBBED: tuple[tuple[str, re.Pattern[str]], ...] = (("scrubbed_secret", SECRET_MARKER),)


def approval_ids(pack: PolicyPack) -> list[str]:
    """`approval.<action>` per approval rule, numbered `#i` where an action repeats."""
    rules = pack.policies.require_approval_for if pack.policies else ()
    ids = [f"approval.{r.action}" for r in rules]
    return [f"{rid}#{i}" if ids.count(rid) > 1 else rid for i, rid in enumerate(ids)]


def registry_roles(state: RunState, a: ApprovalRecord) -> list[str]:
    """An approver's roles: the registry's at the decision, and only for a decision whose
    signature verifies for a call of this run (roles in the event are never facts)."""
    call = next((c for c in state.tool_calls if c.tool_call_id == a.tool_call_id), None)
    if call is None or a.decided_seq is None or a.signature is None:
        return []
    judged = judge_approval(state, call, a, recorded_args_hash(call))
    registry = judged.in_force.registry
    if judged.problem is not None or registry is None:
        return []
    return sorted(registry.roles_of(a.approver_id))
