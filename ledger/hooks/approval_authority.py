"""Who approved a held call, as the hooks may say it in a decision's basis (issue 16).

Why the hooks judge it themselves: a signed `approval.decided` records no roles (the registry in
force says who holds which, ledger/authority/decide.py), and a writer can write an unsigned one
naming anybody with any roles. So the hook never takes roles from the event: it rebuilds the
claim from the call it holds (origin, run, tool_call_id, tool, args hash), verifies the signature
against the approver key of the registry the approver acted under (trusted by the administrator
keys of `$LEDGER_TRUST_ROOT`), and only then reports that registry's roles of the approver and
`signed`. No trust root, no registry, no signature, or one that does not verify: no roles and
not signed, so a rule needing either keeps holding the call (fail closed). Replay judges the
same basis against the registry in force at the decision (replay/policy/enforcement.py).

The registry history is cached per live cache (one per writer) and origin, and read again when
the live version moved or when a decision names a registry the cache has not seen (a newer
publication): publications are rare, approvals of held calls too.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.authority.history import RegistryHistory
from ledger.authority.judge import DecisionOnRecord, judge_decision
from ledger.authority.service import load_history
from ledger.authority.trust import TRUST_ROOT_ENV, TrustRoot, trust_root

if TYPE_CHECKING:
    from ledger.hooks.live import LiveCache

__all__ = ["ApprovalRow", "approver_standing"]

log = logging.getLogger("ledger.hooks")

# live cache -> origin -> (live version, trust root file, history)
_cache: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, str, RegistryHistory]]] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    """The decision `ledger_call_approvals` found for the held call (the event's own words)."""

    decision: str
    approver: str | None
    signature: str | None
    signing_key: str | None
    expires_at: str | None
    registry_hash: str | None


def _root() -> tuple[str, TrustRoot | None]:
    """The trust root of `$LEDGER_TRUST_ROOT` (an unreadable one trusts nothing, and says so)."""
    chosen = os.environ.get(TRUST_ROOT_ENV) or ""
    try:
        return chosen, trust_root(None)
    except Exception as exc:  # a broken trust root file: nothing is trusted (fail closed)
        log.warning("ledger: %s unusable, approvals count as unsigned: %s", TRUST_ROOT_ENV, exc)
        return chosen, None


def _history(live: LiveCache, conn: Any, origin: str, named: str | None) -> RegistryHistory:
    """The origin's registry history, from the cache while the live version and the trust root
    are unchanged and it knows the registry the decision names."""
    source, root = _root()
    if root is None:
        return RegistryHistory(None)
    with _lock:
        hit = _cache.get(live, {}).get(origin)
    if hit is not None and hit[0] == live.version and hit[1] == source and (
            named is None or hit[2].by_digest(named) is not None):
        return hit[2]
    history = load_history(conn, origin, root)
    with _lock:
        _cache.setdefault(live, {})[origin] = (live.version, source, history)
    return history


def approver_standing(live: LiveCache, conn: Any, *, origin: str, run_id: uuid.UUID | str,
                      tool_call_id: str, tool: str, args_hash: str,
                      row: ApprovalRow) -> tuple[list[str], bool]:
    """(the approver's roles in the registry it signed under, signed = the signature verifies)
    for `row` approving the call (`args_hash`: the args the call runs with, for an edit the
    edited ones). Any doubt gives ([], False)."""
    if row.signature is None or not row.approver:
        return [], False
    try:
        history = _history(live, conn, origin, row.registry_hash)
    except Exception as exc:  # the registries could not be read: nothing is vouched for
        log.warning("ledger: could not read the registries of %s: %s", origin, exc)
        return [], False
    found = history.by_digest(row.registry_hash) if row.registry_hash else None
    seqs: Sequence[int] = [s for s, _, _ in history.accepted]
    at = found[0] + 1 if found is not None else (seqs[-1] + 1 if seqs else 0)
    judged = judge_decision(history, DecisionOnRecord(
        seq=at, origin=origin, run_id=uuid.UUID(str(run_id)), tool_call_id=tool_call_id,
        tool=tool, args_hash=args_hash, decision=row.decision, expires_at=row.expires_at,
        approver=row.approver, registry_hash=row.registry_hash, signing_key=row.signing_key,
        signature=row.signature))
    registry = judged.in_force.registry
    if judged.problem is not None or registry is None:
        log.debug("ledger: approval by %s not vouched for: %s", row.approver, judged.problem)
        return [], False
    return sorted(registry.roles_of(row.approver)), True
