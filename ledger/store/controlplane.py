"""Control-plane events from writer roles: refused unless the registry's trust root signed them.

The threat model (issue 15): the agent host holds writer credentials and may be hostile. Events
that change how the ledger is governed (a policy pack, the principal registry, the key ring, a
redaction, a stop) must not be writable with those credentials. The sequencer knows who
submitted each intake row (`submitted_by`, filled by PostgreSQL, not by the writer), so it
judges here, once per batch per distinct role:

- a superuser, a member of the tables' owner, or a member of `ledger_operator` may write them
  (single-user embedded mode, where the local user owns everything, works as before);
- from anyone else (a *writer*), `registry.published` is accepted only when an administrator key
  of the trust root signed the registry's content address (`ledger.authority.signed`, the check
  the registry history applies when judging), and every other control-plane type is refused:
  none carries a signature the registry authorises today (a stop's `authority` fields are the
  writer's own claim, a redaction's and a key event's signatures are not registry grants).
- The sequencer reads the trust root from LEDGER_TRUST_ROOT (`ledger.authority.trust`); with none
  configured, or one that cannot be read, a writer's registry.published is refused too.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from ledger.db.sqlfiles import query
from ledger.store.batch import Drained, Parsed

__all__ = ["CONTROL_PLANE_TYPES", "screen_control_plane"]

CONTROL_PLANE_TYPES = frozenset({
    "policy.published", "registry.published", "key.announced", "key.rotated", "key.revoked",
    "redaction", "run.stop.requested",
})  # fmt: skip


def _operators(conn: psycopg.Connection, roles: set[str]) -> set[str]:
    """The roles among `roles` that may write control-plane events (one query per batch)."""
    rows = conn.execute(query("operator_roles"), (sorted(roles),)).fetchall()
    return {str(name) for name, allowed in rows if allowed}


def _registry_signed(body: bytes) -> str:
    """"" when a trust root administrator signed this registry.published, else why not."""
    from ledger.authority.signed import RegistryError, SignedRegistry
    from ledger.authority.trust import TrustRootError, trust_root

    try:
        root = trust_root()
    except TrustRootError as exc:
        return f"the sequencer's trust root is unusable ({exc})"
    if root is None:
        return "the sequencer has no trust root (LEDGER_TRUST_ROOT) to check its signature"
    data: Any = orjson.loads(body).get("data") or {}
    recorded = {"document": data.get("document"), "signatures": data.get("signatures", [])}
    try:
        signed = SignedRegistry.from_json(recorded, "registry.published")
    except RegistryError as exc:
        return str(exc)
    if signed.trusted_by(root) is None:
        return "not signed by an administrator key of the trust root"
    return ""


def _refusal(item: Parsed) -> str:
    """Why a writer's control-plane event is refused ("" if it is authorised)."""
    kind = item.head.type
    if kind == "registry.published":
        problem = _registry_signed(item.body)
        if not problem:
            return ""
    else:
        problem = "only ledger_operator roles may write it (no registry-authorised signature)"
    return f"control-plane event {kind} from writer role {item.role!r} refused: {problem}"


def screen_control_plane(conn: psycopg.Connection, drained: Drained) -> None:
    """Move writers' unauthorised control-plane events from `drained.parsed` to its rejects."""
    control = [p for p in drained.parsed if p.head.type in CONTROL_PLANE_TYPES]
    if not control:
        return
    operators = _operators(conn, {p.role for p in control})
    refused: set[int] = set()
    for item in control:
        if item.role in operators:
            continue
        reason = _refusal(item)
        if reason:
            drained.reject(item, reason)
            refused.add(item.intake_id)
    if refused:
        drained.parsed = [p for p in drained.parsed if p.intake_id not in refused]
