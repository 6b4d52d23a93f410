"""Which registry is in force at a given seq of a log, judged against the caller's trust root.

Why by seq: a decision is judged by the registry that was in force when it was sequenced, so a
role granted later never validates it retroactively. Why recompute: the event's `registry_hash`
is a label a writer could set; the content address is recomputed from the stored document and
the signature is checked over that. Why versions only go up: a writer may re-append an older,
genuinely signed registry to bring back a revoked role; a version not above the one in force is
refused (`stale`), so the registry cannot be rolled back by replaying history.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.authority.registry import Registry
from ledger.authority.signed import RegistryError, SignedRegistry
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot

__all__ = ["InForce", "PublishedRegistry", "Refused", "RegistryHistory"]

_UNSIGNED = "not signed by an administrator key of the trust root"
Status = Literal["trusted", "no_trust_root", "none_published"]


@dataclass(frozen=True, slots=True)
class PublishedRegistry:
    """One registry.published event as stored: where it sits and what it carries, unjudged.

    Pure data (no database types), so the offline bundle verifier judges registries from a
    bundle with the same history code replay uses against the database.
    """

    seq: int
    event_id: uuid.UUID
    recorded: dict[str, Any]  # {"document": ..., "signatures": [...]} as stored


@dataclass(frozen=True, slots=True)
class InForce:
    """The registry judging a seq, or why there is none (`reason`, one line, never `pass`)."""

    status: Status
    registry: Registry | None
    digest: str | None
    seq: int | None
    reason: str

    @property
    def trusted(self) -> bool:
        return self.registry is not None


@dataclass(frozen=True, slots=True)
class Refused:
    """A published registry the history did not accept, and why (shown by `ledger registry`)."""

    seq: int
    reason: str


def _problem(
    signed: SignedRegistry, root: TrustRoot, origin: str, current: Registry | None
) -> str | None:
    """Why a validly parsed publication does not become the registry in force (or None)."""
    meta = signed.registry.registry
    if signed.trusted_by(root) is None:
        return _UNSIGNED
    if not meta.governs(origin):
        return f"registry {meta.name!r} is for logs {list(meta.logs)}, not {origin!r}"
    if current is not None and meta.name != current.registry.name:
        return f"registry {meta.name!r} is not {current.registry.name!r}, the registry in force"
    if current is not None and meta.version <= current.version:
        return f"stale: version {meta.version} not above {current.version}"
    return None


@dataclass(frozen=True)
class RegistryHistory:
    """The accepted registry versions of one log in seq order, plus the refused ones."""

    root: TrustRoot | None
    accepted: tuple[tuple[int, str, Registry], ...] = ()
    refused: tuple[Refused, ...] = ()
    _seqs: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._seqs[:] = [seq for seq, _, _ in self.accepted]

    @classmethod
    def build(
        cls, root: TrustRoot | None, published: Sequence[PublishedRegistry], origin: str
    ) -> RegistryHistory:
        """Judge every publication of `origin`'s log in order: signed by the root, for this
        log, the same registry as the one in force, and a newer version."""
        if root is None:
            return cls(None)
        accepted: list[tuple[int, str, Registry]] = []
        refused: list[Refused] = []
        for item in sorted(published, key=lambda p: p.seq):
            try:
                signed = SignedRegistry.from_json(item.recorded, f"registry at seq {item.seq}")
            except RegistryError as exc:
                refused.append(Refused(item.seq, str(exc)))
                continue
            problem = _problem(signed, root, origin, accepted[-1][2] if accepted else None)
            if problem is not None:
                refused.append(Refused(item.seq, problem))
            else:
                accepted.append((item.seq, signed.digest, signed.registry))
        return cls(root, tuple(accepted), tuple(refused))

    def admits(self, recorded: Any, origin: str) -> str | None:
        """Why a publication appended after this history would be refused (None: it becomes the
        registry in force). The sequencer screens writers' publications with it (ledger.store.
        controlplane), so a writer cannot publish a registry that history would refuse, nor one
        that would make history refuse the genuine registry later (another name first)."""
        if self.root is None:
            return NO_TRUST_ROOT
        try:
            signed = SignedRegistry.from_json(recorded, "registry.published")
        except RegistryError as exc:
            return str(exc)
        return _problem(signed, self.root, origin, self.accepted[-1][2] if self.accepted else None)

    def at(self, seq: int) -> InForce:
        """The registry in force for an event sequenced at `seq` (published strictly before)."""
        if self.root is None:
            return InForce("no_trust_root", None, None, None, NO_TRUST_ROOT)
        i = bisect.bisect_left(self._seqs, seq)
        if i == 0:
            return InForce(
                "none_published", None, None, None,
                f"no signed principal registry in force at seq {seq}; principals are asserted",
            )
        at_seq, digest, registry = self.accepted[i - 1]
        return InForce("trusted", registry, digest, at_seq, f"registry version {registry.version}")

    def latest(self) -> InForce:
        """The registry in force now (after the last publication)."""
        return self.at(self._seqs[-1] + 1 if self._seqs else 0)

    def by_digest(self, digest: str) -> tuple[int, Registry] | None:
        """An accepted version by content address: (seq, registry), or None."""
        return next(((s, r) for s, d, r in self.accepted if d == digest), None)
