"""The registry use cases shared by the CLI, the TUI, replay and the demo: publish, load.

Publishing checks what judging will check (signed by the trust root, a newer version), so a
registry that would be refused later is refused now, in one line, and nothing is written.
Anyone with writer rights can still append a `registry.published` event by other means; the
history ignores it unless the trust root signed it, which is the point.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

from ledger.authority.history import RegistryHistory
from ledger.authority.signed import RegistryError, SignedRegistry
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.config import Settings
from ledger.store.registry import published_registries

__all__ = ["RegistryPublication", "load_history", "publish_registry"]


@dataclass(frozen=True, slots=True)
class RegistryPublication:
    """What publishing did: the version's address, and its event (None if already in force)."""

    digest: str
    name: str
    version: int
    origin: str
    event_id: uuid.UUID | None

    @property
    def already_published(self) -> bool:
        return self.event_id is None


def load_history(conn: psycopg.Connection, origin: str, root: TrustRoot | None) -> RegistryHistory:
    """Every registry of `origin`'s log, judged against `root` (None: nothing is trusted)."""
    return RegistryHistory.build(root, published_registries(conn, origin), origin)


def publish_registry(
    conn: psycopg.Connection,
    settings: Settings,
    signed: SignedRegistry,
    root: TrustRoot | None,
    *,
    tenant: str | None = None,
) -> RegistryPublication:
    """Append a `registry.published` event to the tenant's log once the root accepts it."""
    from ledger.store.door import append, single_event  # writes only: readers stay light

    if root is None:
        raise RegistryError(f"cannot publish: {NO_TRUST_ROOT}")
    if signed.trusted_by(root) is None:
        raise RegistryError(
            f"registry {signed.registry.registry.name} v{signed.registry.version} is not signed "
            f"by an administrator key of the trust root ({root.source})"
        )
    origin = settings.origin(tenant)
    latest = load_history(conn, origin, root).latest()
    meta = signed.registry.registry
    if not meta.governs(origin):
        raise RegistryError(
            f"registry {meta.name} is for logs {list(meta.logs)}, not {origin}; add the log to "
            "registry.logs (glob patterns) or publish with the right --tenant"
        )
    if latest.registry is not None and meta.name != latest.registry.registry.name:
        raise RegistryError(
            f"registry {meta.name!r} is not {latest.registry.registry.name!r}, the registry in "
            f"force in {origin}"
        )
    if latest.digest == signed.digest:
        return RegistryPublication(signed.digest, meta.name, meta.version, origin, None)
    if latest.registry is not None and meta.version <= latest.registry.version:
        raise RegistryError(
            f"registry version {meta.version} is not above version "
            f"{latest.registry.version} in force; raise registry.version"
        )
    body = signed.to_json()
    data = {"registry_hash": signed.digest, "name": meta.name, "version": meta.version, **body}
    event = single_event("registry.published", data, tenant=tenant)
    append(conn, [event], settings)
    return RegistryPublication(signed.digest, meta.name, meta.version, origin, event.event_id)
