"""Packs in the ledger: publish one (idempotently), find one by its content address.

Policies live in the hashed log as single-event `policy.published` runs so "the policy in
force" is itself tamper-evident. Publishing goes through the write door; finding a pack by
hash is one index probe (migration 0007), re-validated from the stored document.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

from ledger.config import Settings
from ledger.store.policies import published_policy
from replay.policy.loader import LoadedPack, load_pack_data

__all__ = ["Publication", "find_policy", "publish_policy"]


@dataclass(frozen=True, slots=True)
class Publication:
    """A pack as published: its address, and the event that published it now (None if it was
    already in the ledger, so publishing the same pack twice writes nothing)."""

    policy_hash: str
    name: str
    version: str
    event_id: uuid.UUID | None

    @property
    def already_published(self) -> bool:
        return self.event_id is None


def find_policy(conn: psycopg.Connection, policy_hash: str) -> LoadedPack | None:
    """The published pack with this content address (re-validated from its document)."""
    found = published_policy(conn, policy_hash)
    if found is None:
        return None
    return load_pack_data(found.document, f"<ledger policy {policy_hash[:12]}>")


def publish_policy(conn: psycopg.Connection, settings: Settings, loaded: LoadedPack) -> Publication:
    """Append a policy.published event (a single-event run) unless the pack is already there."""
    # the write door only here: finding packs (the checks of `ledger tui --readonly`) imports none
    from ledger.store.door import append, single_event

    if published_policy(conn, loaded.policy_hash) is not None:
        return Publication(loaded.policy_hash, loaded.name, loaded.version, None)
    event = single_event(
        "policy.published",
        {
            "policy_hash": loaded.policy_hash,
            "name": loaded.name,
            "version": loaded.version,
            "document": loaded.document,
        },
        versions={"policy_hash": loaded.policy_hash},
    )
    append(conn, [event], settings)
    return Publication(loaded.policy_hash, loaded.name, loaded.version, event.event_id)
