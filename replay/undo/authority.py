"""Who may approve an undo plan: the principal registry in force, never the approver's word.

Why the registry: undo changes the world again, so an approval must come from a principal an
administrator registered, with the roles the administrator gave them, signed by the key the
administrator registered, and covered by the registry's `undo` grants for every effect the plan
repairs. Without a trust root or a registry in force nothing can be judged, and here "unknown"
is a refusal (unlike `ledger check`, which reports it).

Scope vocabulary of the `undo` grants: one scope per plan step, `tool:<tool name>` of the
action it repairs (for example `tool:payments.refund`, `tool:crm.update_field`); grants match
with globs (`tool:crm.*`, `*`). An approver must be granted every step's scope, since an
approval signs the whole plan digest. The tool is taken from the *recorded* action the step
targets as well as from the plan file (which whoever made it can edit and re-digest), so
renaming a refund step `crm.update_field` does not bring it within a CRM-only grant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import psycopg

from ledger.authority.history import InForce
from ledger.authority.registry import Registry
from ledger.authority.service import load_history
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.store import read
from replay.undo.model import UndoPlan

__all__ = ["NoAuthority", "registry_in_force", "registry_refusal", "undo_scopes"]


class NoAuthority(LedgerError):
    """No trust root, or no signed registry in force: undo cannot be judged, so it is refused."""


def _recorded_tool(conn: psycopg.Connection, action_id: str) -> str | None:
    try:
        stored = read.event_by_id(conn, uuid.UUID(action_id))
    except ValueError:
        return None
    data: Any = stored.event.data if stored is not None else None
    tool = getattr(data, "tool", None)
    return tool if isinstance(tool, str) else None


def undo_scopes(conn: psycopg.Connection, plan: UndoPlan) -> tuple[str, ...]:
    """The `undo` grant scopes a plan needs: `tool:<name>` of each step as the plan says and as
    the ledger recorded the action it targets (both, so an edited plan can only need more)."""
    tools = {step.tool for step in plan.steps}
    for step in plan.steps:
        recorded = _recorded_tool(conn, step.target_action_id) if step.target_action_id else None
        if recorded:
            tools.add(recorded)
    return tuple(sorted(f"tool:{tool}" for tool in tools))


def registry_in_force(
    conn: psycopg.Connection, settings: Settings, root: TrustRoot | None, what: str
) -> InForce:
    """The registry in force now for the ledger's log; NoAuthority (one line) when none."""
    if root is None:
        raise NoAuthority(f"cannot {what}: {NO_TRUST_ROOT}")
    latest = load_history(conn, settings.origin(), root).latest()
    if latest.registry is None:
        raise NoAuthority(f"cannot {what}: {latest.reason}")
    return latest


def _label(registry: Registry) -> str:
    return f"registry {registry.registry.name} v{registry.version}"


def registry_refusal(registry: Registry, approver: str, scopes: Iterable[str]) -> str | None:
    """Why `registry` does not let `approver` approve undo of these scopes (None: it does)."""
    found = registry.principal(approver)
    if found is None:
        return f"unknown approver {approver!r}: not a principal in {_label(registry)}"
    if found.approver_key is None:
        return f"approver {approver!r} has no approver key in {_label(registry)}"
    missing = [s for s in scopes if not registry.allows(registry.undo, approver, s)]
    if missing:
        return (
            f"approver {approver!r} has no undo grant for {', '.join(missing)} "
            f"in {_label(registry)}"
        )
    return None
