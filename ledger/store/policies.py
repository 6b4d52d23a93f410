"""Published policy packs: the list in log order, and one pack by its content address.

Policies live in the hashed log as single-event `policy.published` runs, so "the policy in
force" is itself tamper-evident. Looking one up by hash goes through the expression index of
migration 0007 and decodes one event, not every pack ever published.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from ledger.db.sqlfiles import query

__all__ = ["PublishedPolicy", "published_policies", "published_policies_in", "published_policy"]


@dataclass(frozen=True, slots=True)
class PublishedPolicy:
    """One policy.published event: where it sits in the log and the pack document it carries."""

    seq: int
    event_id: uuid.UUID
    policy_hash: str
    name: str
    version: str
    document: Any  # the normalised pack document (JSON), re-validated by replay.policy


_HASH = re.compile(r"[0-9a-f]{64}")  # ledger.event_data.Hash


def _published(seq: int, body: bytes) -> PublishedPolicy:
    """The stored event's fields, read as plain JSON when it has the expected shape (what the
    write door stored): `ledger check` then needs none of pydantic's event models; any doubt
    goes through ledger.events.decode_event, so odd input fails exactly as it did."""
    fast = _plain(bytes(body))
    if fast is not None:
        return PublishedPolicy(int(seq), *fast)
    from ledger.events import decode_event

    event = decode_event(bytes(body))
    data = event.data
    return PublishedPolicy(
        int(seq), event.event_id, data.policy_hash, data.name, data.version, data.document
    )


def _plain(body: bytes) -> tuple[uuid.UUID, str, str, str, Any] | None:
    try:
        doc = orjson.loads(body)
        data = doc["data"]
        fields = (data["policy_hash"], data["name"], data["version"])
        if (doc.get("type") != "policy.published" or set(data) != {*_FIELDS}
                or not all(isinstance(f, str) for f in fields)
                or not _HASH.fullmatch(fields[0])):
            return None
        return uuid.UUID(doc["event_id"]), *fields, data["document"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


_FIELDS = ("policy_hash", "name", "version", "document")


def published_policies(conn: psycopg.Connection) -> list[PublishedPolicy]:
    """Every published pack in log order (a pack published twice appears twice)."""
    rows = conn.execute(query("published_policies")).fetchall()
    return [_published(seq, body) for seq, body in rows]


def published_policy(conn: psycopg.Connection, policy_hash: str) -> PublishedPolicy | None:
    """The first publication of the pack with this content address, or None."""
    row = conn.execute(query("published_policy"), (policy_hash,)).fetchone()
    return _published(row[0], row[1]) if row is not None else None


def published_policies_in(conn: psycopg.Connection, origin: str) -> list[PublishedPolicy]:
    """The packs published in one log (`origin`), in log order: what "in force" is read from."""
    rows = conn.execute(query("published_policies_in"), (origin,)).fetchall()
    return [_published(seq, body) for seq, body in rows]
