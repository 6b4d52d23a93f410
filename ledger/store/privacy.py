"""The tables of crypto-shredding: per-subject keys and the encrypted payloads they open.

`ledger.privacy` decides what is committed and how it is sealed; this module is the only code
that reads or writes `ledger_subject_keys` and `ledger_payloads`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ledger.db.sqlfiles import query

__all__ = [
    "SealedPayload",
    "StoredPayload",
    "commitment_payloads",
    "has_payload_tables",
    "insert_payloads",
    "origin_payloads",
    "shred_subject",
    "subject_commitments",
    "subject_key",
]


@dataclass(frozen=True, slots=True)
class SealedPayload:
    """One committed field's salt and value, encrypted under its subject's key."""

    commitment: str
    origin: str
    subject: str
    event_id: uuid.UUID
    path: str
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """A stored payload and its subject's key (None once the subject was shredded)."""

    commitment: str
    path: str
    ciphertext: bytes
    key: bytes | None


def subject_key(conn: psycopg.Connection, origin: str, subject: str) -> bytes:
    """The subject's key, created (32 random bytes) on first use."""
    conn.execute(query("insert_subject_key"), (origin, subject, os.urandom(32)))
    row = conn.execute(query("subject_key"), (origin, subject)).fetchone()
    assert row is not None
    return bytes(row[0])


def insert_payloads(conn: psycopg.Connection, payloads: Sequence[SealedPayload]) -> None:
    """Store sealed payloads in one statement (a commitment already stored is kept)."""
    if not payloads:
        return
    conn.execute(
        query("insert_payloads"),
        (
            [p.commitment for p in payloads],
            [p.origin for p in payloads],
            [p.subject for p in payloads],
            [p.event_id for p in payloads],
            [p.path for p in payloads],
            [p.ciphertext for p in payloads],
        ),
    )


def subject_commitments(conn: psycopg.Connection, origin: str, subject: str) -> list[str]:
    """Every commitment whose payload belongs to `subject`, sorted."""
    return [str(r[0]) for r in conn.execute(query("subject_commitments"), (origin, subject))]


def shred_subject(conn: psycopg.Connection, origin: str, subject: str) -> None:
    """Delete the subject's key and payloads (the caller logs the `redaction` in the same txn)."""
    conn.execute(query("shred_subject_key"), (origin, subject))
    conn.execute(query("shred_subject_payloads"), (origin, subject))


def origin_payloads(conn: psycopg.Connection, origin: str) -> dict[str, StoredPayload]:
    """Every stored payload of an origin by commitment, with its key if not shredded."""
    return {
        str(c): StoredPayload(str(c), str(path), bytes(sealed), bytes(key) if key else None)
        for c, path, sealed, key in conn.execute(query("origin_payloads"), (origin,))
    }


def commitment_payloads(
    conn: psycopg.Connection, origin: str, event_id: uuid.UUID, commitments: Sequence[str]
) -> dict[str, StoredPayload]:
    """The payloads stored for one event's commitments (key None once shredded).

    Bound to the event: a body naming a commitment stored for another event opens nothing.
    """
    rows = conn.execute(query("commitment_payloads"), (origin, event_id, list(commitments)))
    return {
        str(c): StoredPayload(str(c), str(path), bytes(sealed), bytes(key) if key else None)
        for c, path, sealed, key in rows
    }


def has_payload_tables(conn: psycopg.Connection) -> bool:
    """Whether the privacy tables exist (a database older than migration 0005 has none)."""
    row = conn.execute(query("payloads_table_exists")).fetchone()
    return bool(row and row[0])
