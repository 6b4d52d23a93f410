"""The tables of crypto-shredding: per-subject keys and the encrypted payloads they open.

`ledger.privacy` decides what is committed and how it is sealed; this module is the only code
that reads or writes `ledger_subject_keys` and `ledger_payloads`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ledger.db.sqlfiles import query

__all__ = [
    "SealedPayload",
    "StoredPayload",
    "SubjectKey",
    "commitment_payloads",
    "has_payload_tables",
    "insert_payloads",
    "origin_payloads",
    "payloads_of",
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
    envelope: SubjectKey | None = None  # its own wrapped key (a confined writer's); else None


@dataclass(frozen=True, slots=True)
class SubjectKey:
    """One row of `ledger_subject_keys` as stored: never a usable secret on its own.

    `scheme` 'legacy-secretbox' rows (from before migration 0008) hold the SecretBox `key` in
    the clear; every other row holds the X25519 `public_key` and the private key only as
    `wrapped_key`, wrapped by the KEK named `kek_id` (ledger.kek).
    """

    scheme: str
    key: bytes | None = None
    public_key: bytes | None = None
    wrapped_key: bytes | None = None
    kek_id: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SubjectKey:
        """Build from (scheme, key, public_key, wrapped_key, kek_id) columns."""
        scheme, key, public, wrapped, kek = row
        return cls(
            str(scheme),
            _bytes(key),
            _bytes(public),
            _bytes(wrapped),
            str(kek) if kek is not None else None,
        )


def _bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """A stored payload and its subject's key row (None once the subject was shredded)."""

    commitment: str
    path: str
    ciphertext: bytes
    subject: str
    key: SubjectKey | None


def subject_key(
    conn: psycopg.Connection, origin: str, subject: str, new: Callable[[], SubjectKey]
) -> SubjectKey:
    """The subject's key row; on first use `new()` makes a wrapped one and it is inserted.

    `new` is only called for a subject without a row, so writing for a known subject needs no
    KEK at all; a concurrent first insert wins and both writers use the stored row.
    """
    row = conn.execute(query("subject_key"), (origin, subject)).fetchone()
    if row is None:
        fresh = new()
        conn.execute(
            query("insert_subject_key"),
            (origin, subject, fresh.scheme, fresh.public_key, fresh.wrapped_key, fresh.kek_id),
        )
        row = conn.execute(query("subject_key"), (origin, subject)).fetchone()
    assert row is not None
    return SubjectKey.from_row(row)


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
            [p.envelope.scheme if p.envelope else None for p in payloads],
            [p.envelope.public_key if p.envelope else None for p in payloads],
            [p.envelope.wrapped_key if p.envelope else None for p in payloads],
            [p.envelope.kek_id if p.envelope else None for p in payloads],
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
    """Every stored payload of an origin by commitment, with its key row if not shredded."""
    return _payloads(conn.execute(query("origin_payloads"), (origin,)))


def payloads_of(
    conn: psycopg.Connection, origin: str, commitments: Sequence[str]
) -> dict[str, StoredPayload]:
    """The stored payloads of some commitments of an origin (an incremental verify's range)."""
    return _payloads(conn.execute(query("payloads_of_commitments"), (origin, list(commitments))))


def _payloads(rows: Iterable[Sequence[Any]]) -> dict[str, StoredPayload]:
    """Payload rows (commitment, path, ciphertext, subject, key columns...) by commitment."""
    out: dict[str, StoredPayload] = {}
    for row in rows:
        c, path, sealed, subject = row[:4]
        key = SubjectKey.from_row(row[4:]) if row[4] is not None else None
        out[str(c)] = StoredPayload(str(c), str(path), bytes(sealed), str(subject), key)
    return out


def commitment_payloads(
    conn: psycopg.Connection,
    origin: str,
    event_ids: Sequence[uuid.UUID],
    commitments: Sequence[str],
) -> dict[tuple[uuid.UUID, str], StoredPayload]:
    """The payloads stored for those events' commitments, by (event id, commitment); key None
    once shredded. Bound to the event: a commitment stored for another event is not returned."""
    rows = conn.execute(query("commitment_payloads"), (origin, list(event_ids), list(commitments)))
    out: dict[tuple[uuid.UUID, str], StoredPayload] = {}
    for row in rows:
        for c, payload in _payloads([row[1:]]).items():
            out[(row[0], c)] = payload
    return out


def has_payload_tables(conn: psycopg.Connection) -> bool:
    """Whether the privacy tables exist (a database older than migration 0005 has none)."""
    row = conn.execute(query("payloads_table_exists")).fetchone()
    return bool(row and row[0])
