"""Who may approve an undo plan, judged the one way `ledger undo approve` and the TUI both use.

Why one module: the Undo tab's "eligible approvers" used to be everyone the log had seen with a
role, while `ledger undo approve` asked the registry, so the on-call paged people the approve
would refuse (INCIDENT18 #2). Both now ask `approver_refusal`: the registry in force (a
registered principal with an approver key and `undo` grants for every step's `tool:<name>`,
replay.undo.authority) and separation of duties (the original actors and approvers of the runs
the plan repairs, re-derived from the ledger). Reads only: a `--readonly` TUI may import it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ledger.authority.registry import Registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.events import EventBase
from ledger.identity import normalise_principal
from ledger.store import read
from replay.undo.authority import NoAuthority, registry_in_force, registry_refusal, undo_scopes
from replay.undo.model import UndoPlan

__all__ = [
    "Eligible",
    "OriginalParties",
    "approver_refusal",
    "eligible_approvers",
    "original_parties",
]


@dataclasses.dataclass(frozen=True)
class OriginalParties:
    """Who acted in, and who approved calls of, the runs a plan repairs (normalised names)."""

    actors: frozenset[str]
    approvers: frozenset[str]

    def refusal(self, name: str) -> str | None:
        """Why `name` may not approve this plan, or None when separation of duties allows it."""
        who = normalise_principal(name)
        if who in self.actors:
            return (
                f"separation of duties: {name} is an original actor of the runs this plan repairs"
            )
        if who in self.approvers:
            return f"separation of duties: {name} approved the original actions this plan repairs"
        return None


def _uuid(text: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def _target_runs(conn: psycopg.Connection, plan: UndoPlan) -> list[uuid.UUID]:
    """Every run the plan names: in its scope, on its steps, and the runs that really hold the
    actions its steps target (so editing a step's run id does not move it out of reach)."""
    scope_runs = plan.scope.get("runs")
    named = [*(scope_runs if isinstance(scope_runs, list) else []), *(s.run_id for s in plan.steps)]
    runs = {r for r in map(_uuid, named) if r is not None}
    for step in plan.steps:
        action = _uuid(step.target_action_id)
        stored = read.event_by_id(conn, action) if action is not None else None
        if stored is not None:
            runs.add(stored.event.run_id)
    return sorted(runs, key=str)


def _parties_of(events: Iterable[EventBase], actors: set[str], approvers: set[str]) -> None:
    for e in events:
        data: Any = getattr(e, "data", None)
        if e.principal.initiating_user:
            actors.add(normalise_principal(e.principal.initiating_user))
        elif e.type == "tool.call.started" and e.agent is not None:
            actors.add(normalise_principal(e.agent.name))
        if e.type == "approval.decided" and data.decision != "rejected":
            approvers.add(normalise_principal(data.approver.id))


def original_parties(
    conn: psycopg.Connection,
    plan: UndoPlan,
    settings: Settings | None = None,
    root: TrustRoot | None = None,
) -> OriginalParties:
    """Original actors and approvers from the ledger itself (never only from the plan file):
    initiating users (or the agent, when none) of the target runs, the users their recorded ID
    tokens verify as (with `settings` and `root`: a writer recording another name does not make
    the real user independent), and the approvers of their calls, including decisions recorded
    in other runs of the same log. The plan file's own lists are added too: they can only make
    the check stricter."""
    actors = {normalise_principal(a) for a in plan.original_actors}
    approvers = {normalise_principal(a) for a in plan.original_approvers}
    stored = read.runs_events(conn, _target_runs(conn, plan))
    _parties_of((s.event for s in stored), actors, approvers)
    if settings is not None and root is not None:
        actors |= _verified_actors(conn, settings, root, stored)
    calls: dict[str, set[str]] = {}
    for s in stored:
        if s.event.type == "tool.call.started":
            data: Any = s.event.data
            calls.setdefault(s.origin, set()).add(data.tool_call_id)
    for origin, ids in calls.items():
        found = read.decisions_for_calls(conn, origin, sorted(ids))
        _parties_of((s.event for _, s in found), set(), approvers)
    return OriginalParties(frozenset(actors), frozenset(approvers))


def _verified_actors(
    conn: psycopg.Connection, settings: Settings, root: TrustRoot, stored: Sequence[Any]
) -> set[str]:
    """The verified users of the target runs (replay.identity), by their comparison form."""
    from ledger.privacy import PayloadOpener
    from replay.authority import load_authority
    from replay.identity import identity_of

    opener, found = PayloadOpener(settings), set()
    for s in stored:
        if s.event.type == "run.started":
            who = identity_of(conn, opener, load_authority(conn, s.origin, root), s).user
            if who.is_verified and who.key() is not None:
                found.add(str(who.key()))
    return found


def approver_refusal(
    registry: Registry, parties: OriginalParties, approver: str, scopes: Iterable[str]
) -> str | None:
    """Why `approver` may not approve a plan needing these `undo` scopes (None: they may)."""
    return registry_refusal(registry, approver, scopes) or parties.refusal(approver)


@dataclasses.dataclass(frozen=True)
class Eligible:
    """Who the registry in force would let approve a plan, with their registry roles.

    `judged` is False when there is no trust root or registry: then nobody is eligible and
    `note` says why (the approve would be refused the same way)."""

    people: tuple[tuple[str, tuple[str, ...]], ...]
    judged: bool
    note: str

    def names(self, roles: Sequence[str] = ()) -> list[str]:
        """The eligible names holding one of `roles` (any role when none is named)."""
        return [who for who, have in self.people if not roles or set(roles) & set(have)]


def eligible_approvers(
    conn: psycopg.Connection, settings: Settings, plan: UndoPlan, root: TrustRoot | None
) -> Eligible:
    """Every registered principal `approve` would accept for this plan (approver_refusal)."""
    try:
        in_force = registry_in_force(conn, settings, root, "judge approvers")
    except NoAuthority as exc:
        return Eligible((), False, str(exc))
    registry = in_force.registry
    assert registry is not None  # registry_in_force raises otherwise
    scopes = undo_scopes(conn, plan)
    parties = original_parties(conn, plan, settings, root)
    people = tuple(
        (p.id, tuple(sorted(registry.roles_of(p.id))))
        for p in sorted(registry.principals, key=lambda p: p.id)
        if approver_refusal(registry, parties, p.id, scopes) is None
    )
    return Eligible(people, True, f"registry {registry.registry.name} v{registry.version}")
