"""Who may stop a target: the registry's word, by the judgement `ledger stop` makes.

Why here and not in a screen: the console's "who may stop this run" must be the answer
`ledger stop` would give each person, so it is the same rule (ledger.authority.stops.may_act: a
`stop` grant matching the target or `tenant:<tenant>`, and a registered approver key to sign
with), asked for every registered principal. Without a trust root or a registry in force there
is no list to give: anyone holding an operator connection may stop, and the stop is recorded as
`asserted` (ledger.stops), which is what `StopAuthority.basis` says, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ledger.authority.history import InForce
from ledger.authority.stops import may_act
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot

__all__ = ["StopAuthority", "Stopper", "stop_authority", "who_may_stop"]


@dataclass(frozen=True, slots=True)
class Stopper:
    """A registered principal the registry lets stop some of the targets asked about."""

    principal: str
    roles: tuple[str, ...]  # the roles the registry gives them (not the writer's word)
    targets: tuple[str, ...]  # which of the targets asked about their grants cover


@dataclass(frozen=True, slots=True)
class StopAuthority:
    """Who may stop, and on whose word: a registry version (label) or nobody's (asserted)."""

    label: str | None  # "registry NAME vN"; None: no registry in force, stops are asserted
    reason: str  # why asserted (no trust root, none published); the version when trusted
    stoppers: tuple[Stopper, ...] = ()

    @property
    def basis(self) -> str:
        """One line: whose word the list is."""
        if self.label is None:
            return f"asserted, no registry: {self.reason}"
        return f"stop grants of {self.label}"


def stop_authority(in_force: InForce, targets: Sequence[str], tenant: str) -> StopAuthority:
    """The principals of the registry `in_force` who may stop one of `targets` (in `tenant`),
    each with the targets they may stop; asserted (with the reason) without a registry."""
    registry = in_force.registry
    if registry is None:
        return StopAuthority(None, in_force.reason)
    found = []
    for person in registry.principals:
        judged = [(t, may_act(registry, "stop", person.id, t, tenant)) for t in targets]
        covered = tuple(t for t, why in judged if not isinstance(why, str))
        if covered:
            found.append(Stopper(person.id, tuple(person.roles), covered))
    label = f"registry {registry.registry.name} v{registry.version}"
    return StopAuthority(label, in_force.reason, tuple(sorted(found, key=lambda s: s.principal)))


def who_may_stop(
    conn: psycopg.Connection,
    origin: str,
    root: TrustRoot | None,
    targets: Sequence[str],
    tenant: str,
) -> StopAuthority:
    """`stop_authority` under the registry in force now in `origin`'s log, judged by `root`
    (the registry `ledger stop` would judge a stop by)."""
    from ledger.authority.service import load_history

    if root is None:
        return StopAuthority(None, NO_TRUST_ROOT)
    return stop_authority(load_history(conn, origin, root).latest(), targets, tenant)
