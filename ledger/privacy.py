"""Salted commitments for sensitive fields, encrypted payloads, crypto-shredding, secret scrubbing.

Why: an append-only log cannot forget, but law and common sense require erasure. So sensitive
fields never enter the hashed body: the body holds a commitment

    {"$commitment": "sha256:<hex>", "subject": S}
    hex = SHA-256("agentledger/commit/v1" || salt(32 bytes) || JSON pointer path || 0x00
                  || RFC 8785 canonical bytes of the value)

and the salt + value live in `ledger_payloads`, sealed (PyNaCl SealedBox) to an X25519 key pair
per (tenant, subject) in `ledger_subject_keys`: its public half in the clear, its private half
only wrapped by the key-encryption key of ledger.kek, which is not in the database. So writers
seal with no secret, and a database dump alone opens nothing. (Subjects from before migration
0008 keep their plaintext SecretBox key, scheme 'legacy-secretbox', and stay readable.)
Erasure deletes that key row and those payload rows and logs a signed `redaction` event naming
the commitments; every leaf, root and proof stays valid and the salt is gone, so low-entropy
values cannot be guessed back from the commitment.

`scrub_secrets` (re-exported from ledger.secrets, where the detectors are listed) is what the
capture hooks and `ledger ingest` run on event data: API keys, tokens, private keys, passwords and
base64-wrapped credentials are replaced by a salted commitment marker (the salt is discarded) and
reported with the detector that found them, so secrets never reach the database at all.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nacl.exceptions
import nacl.public
import nacl.secret
import psycopg

from ledger.canonical import canonical_bytes
from ledger.commitment import COMMIT_DOMAIN, commitment_of
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.kek import SCHEME_LEGACY, KekError, KekPublic, KekSecret, kek_public, open_kek
from ledger.secrets import scrub_secrets
from ledger.store.privacy import (
    SealedPayload,
    SubjectKey,
    commitment_payloads,
    insert_payloads,
    shred_subject,
    subject_commitments,
    subject_key,
)

if TYPE_CHECKING:  # writes import the write door at call time: `verify` only reads
    from ledger.events import EventBase
    from ledger.store.append import Receipt

__all__ = [
    "COMMITMENT_KEY",
    "COMMIT_DOMAIN",
    "PayloadOpener",
    "PayloadRow",
    "PayloadUnreadable",
    "commit_fields",
    "commitment_of",
    "new_subject_key",
    "open_payload_rows_of",
    "open_payloads_of",
    "redact_subject",
    "scrub_secrets",
    "seal_payload",
    "seal_payloads",
    "submit_private",
]

COMMITMENT_KEY = "$commitment"


@dataclass(frozen=True)
class PayloadRow:
    """The secret half of one commitment (stored encrypted, shreddable)."""

    commitment: str
    subject: str
    path: str
    salt: bytes
    value: Any

    def plaintext(self) -> bytes:
        return canonical_bytes(
            {"path": self.path, "salt": base64.b64encode(self.salt).decode(), "value": self.value}
        )


def _split(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise ValueError(f"sensitive path {pointer!r} must be a JSON pointer such as /data/args")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def commit_fields(
    event_json: dict[str, Any], sensitive_paths: Sequence[str], subject: str
) -> tuple[dict[str, Any], list[PayloadRow]]:
    """Replace each present sensitive field by a commitment; return new JSON and payloads."""
    import copy

    out = copy.deepcopy(event_json)
    rows: list[PayloadRow] = []
    for pointer in sensitive_paths:
        parts = _split(pointer)
        parent: Any = out
        for part in parts[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        last = parts[-1]
        if not isinstance(parent, dict) or last not in parent:
            continue
        value = parent[last]
        if isinstance(value, dict) and COMMITMENT_KEY in value:
            continue
        salt = os.urandom(32)
        commitment = commitment_of(salt, pointer, value)
        parent[last] = {COMMITMENT_KEY: commitment, "subject": subject}
        rows.append(PayloadRow(commitment, subject, pointer, salt, value))
    return out, rows


def submit_private(
    conn: psycopg.Connection,
    events: Sequence[EventBase],
    settings: Settings,
    sensitive: Sequence[str],
    subject: str,
) -> list[Receipt]:
    """Submit events with `sensitive` JSON-pointer fields committed; payloads in the same txn.

    Only JSON-typed fields (args, result, output, request, attributes, ...) can hold a
    commitment object; a field the event model types as a string is refused with ValueError.
    """
    from ledger.events import decode_event, to_json
    from ledger.store.append import EncodedEvent
    from ledger.store.door import append_encoded

    items: list[EncodedEvent] = []
    payloads: list[tuple[str, uuid.UUID, PayloadRow]] = []
    for event in events:
        committed, rows = commit_fields(to_json(event), sensitive, subject)
        try:
            typed = decode_event(committed)
        except ValueError as exc:
            raise ValueError(f"cannot commit {list(sensitive)} in {event.type}: {exc}") from None
        body = canonical_bytes(to_json(typed))
        origin = settings.origin(event.tenant)
        items.append(EncodedEvent(event.event_id, origin, event.run_id, event.run_seq, body))
        payloads += [(origin, event.event_id, row) for row in rows]
    with conn.transaction():
        seal_payloads(conn, settings, payloads)
        return append_encoded(conn, items, check_canonical=False).receipts


def seal_payloads(
    conn: psycopg.Connection,
    settings: Settings,
    payloads: Sequence[tuple[str, uuid.UUID, PayloadRow]],
) -> None:
    """Encrypt each (origin, event id, payload) to its subject's key and store it.

    The caller appends the events that carry the commitments in the same transaction, so a
    commitment never reaches the log without its payload (or the payload without the event).
    A new subject gets a fresh key pair wrapped by the KEK's public half: writers hold no secret.
    A confined writer (migration 0010: it can neither read nor insert subject keys, so it can
    neither decrypt another writer's payloads nor plant a key pair it kept) seals each batch to
    a one-off key pair whose wrapped private half is stored in the payload rows themselves.
    """
    from ledger.store.confine import abilities

    own = not abilities(conn).read_subject_keys if payloads else False
    keys: dict[tuple[str, str], SubjectKey] = {}
    sealed: list[SealedPayload] = []
    for origin, event_id, row in payloads:
        key = keys.get((origin, row.subject))
        if key is None and own:  # confined writer: a one-off envelope, forgotten after the batch
            key = keys[(origin, row.subject)] = new_subject_key(kek_public(settings))
        elif key is None:
            key = keys[(origin, row.subject)] = subject_key(
                conn, origin, row.subject, lambda: new_subject_key(_writer_kek(settings))
            )
        box = seal_payload(key, row.plaintext())
        sealed.append(SealedPayload(row.commitment, origin, row.subject, event_id, row.path, box,
                                    key if own else None))
    insert_payloads(conn, sealed)


def open_payloads_of(
    conn: psycopg.Connection,
    opener: PayloadOpener,
    origin: str,
    event_ids: Sequence[uuid.UUID],
    commitments: Sequence[str],
) -> dict[tuple[uuid.UUID, str], tuple[str, Any]]:
    """(path, value) behind each (event, commitment) stored for those events that opens and
    matches, keyed by (event id, commitment); one query for any number of events.

    A commitment whose subject was shredded, whose payload is missing or stored for another
    event, or whose decrypted salt, path and value do not hash to it is absent from the result:
    the caller treats it as erased. The caller checks the path is where it found the commitment.
    A missing KEK is not "erased": it raises KekError (one line, exit code KEY).
    """
    opened = open_payload_rows_of(conn, opener, origin, event_ids, commitments)
    return {key: (row.path, row.value) for key, row in opened.items()}


def open_payload_rows_of(
    conn: psycopg.Connection,
    opener: PayloadOpener,
    origin: str,
    event_ids: Sequence[uuid.UUID],
    commitments: Sequence[str],
) -> dict[tuple[uuid.UUID, str], PayloadRow]:
    """Like `open_payloads_of`, with the salt: what a disclosure needs so that someone without
    the database can recompute the commitment (the evidence bundle's identity tokens)."""
    import orjson

    out: dict[tuple[uuid.UUID, str], PayloadRow] = {}
    for (event_id, c), row in commitment_payloads(conn, origin, event_ids, commitments).items():
        if row.key is None:
            continue
        try:
            doc = orjson.loads(opener.open(row.key, row.ciphertext))
            path, salt = str(doc["path"]), base64.b64decode(doc["salt"])
            if commitment_of(salt, path, doc["value"]) == c:
                out[(event_id, c)] = PayloadRow(c, row.subject, path, salt, doc["value"])
        except (PayloadUnreadable, ValueError, KeyError, TypeError):
            continue
    return out


def new_subject_key(kek: KekPublic) -> SubjectKey:
    """A fresh X25519 subject key pair: public half in the clear, private half wrapped by `kek`."""
    private = nacl.public.PrivateKey.generate()
    wrapped = kek.wrap(bytes(private))
    public = bytes(private.public_key)
    del private
    return SubjectKey(kek.scheme, None, public, wrapped, kek.kek_id)


def seal_payload(key: SubjectKey, plaintext: bytes) -> bytes:
    """Encrypt a payload for its subject: SealedBox to the public key (legacy: SecretBox)."""
    if key.scheme == SCHEME_LEGACY:
        assert key.key is not None
        return bytes(nacl.secret.SecretBox(key.key).encrypt(plaintext))
    assert key.public_key is not None
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(key.public_key)).encrypt(plaintext))


def _writer_kek(settings: Settings) -> KekPublic:
    """The KEK public key for a new subject. On an empty ledger (no log key yet) the first log
    key is created here, and the file KEK with it; otherwise a missing KEK is a KekError."""
    try:
        return kek_public(settings)
    except KekError:
        token_log_key = settings.extra.get("log_key") or os.environ.get("LEDGER_LOG_KEY")
        if token_log_key or settings.log_key_path.exists():
            raise
    from ledger.store.sequencer import log_signer

    log_signer(settings)  # first log key of an empty ledger: creates the file KEK too
    return kek_public(settings)


class PayloadUnreadable(LedgerError):
    """A stored payload cannot be opened with the configured KEK (reason in the message).

    `verify` reports it as `payload_mismatch` (exit INVALID); callers of PayloadOpener see it."""


class PayloadOpener:
    """Opens stored payloads: unwraps each subject's private key once with the KEK.

    The KEK is loaded on the first wrapped key met, so a ledger with only legacy subjects (or
    none) needs no KEK; a missing KEK then is a KekError (one line, exit code KEY).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._kek: KekSecret | None = None
        self._boxes: dict[bytes, nacl.public.SealedBox[nacl.public.PrivateKey]] = {}

    def kek(self) -> KekSecret:
        """The configured KEK (loaded once)."""
        if self._kek is None:
            self._kek = open_kek(self.settings)
        return self._kek

    def open(self, key: SubjectKey, ciphertext: bytes) -> bytes:
        """The plaintext of one payload; PayloadUnreadable when it cannot be opened."""
        try:
            if key.scheme == SCHEME_LEGACY:
                assert key.key is not None
                return bytes(nacl.secret.SecretBox(key.key).decrypt(ciphertext))
            return bytes(self._box(key).decrypt(ciphertext))
        except nacl.exceptions.CryptoError:
            raise PayloadUnreadable("payload does not open with its subject key") from None

    def _box(self, key: SubjectKey) -> nacl.public.SealedBox[nacl.public.PrivateKey]:
        assert key.wrapped_key is not None
        box = self._boxes.get(key.wrapped_key)
        if box is None:
            kek = self.kek()
            if (key.scheme, key.kek_id) != (kek.scheme, kek.kek_id):
                raise PayloadUnreadable(
                    f"subject key is wrapped by {key.scheme} KEK {key.kek_id}, "
                    f"not by the configured {kek.scheme} KEK {kek.kek_id}"
                )
            try:
                private = nacl.public.PrivateKey(kek.unwrap(key.wrapped_key))
            except (KekError, ValueError, TypeError):
                raise PayloadUnreadable("subject key does not unwrap with the KEK") from None
            if bytes(private.public_key) != key.public_key:
                raise PayloadUnreadable("wrapped subject key does not match its public key")
            box = self._boxes[key.wrapped_key] = nacl.public.SealedBox(private)
        return box


def redact_subject(  # noqa: PLR0917 - positional helper with a fixed, documented order
    conn: psycopg.Connection,
    settings: Settings,
    subject: str,
    reason: str,
    authorised_by: str | None = None,
    tenant: str | None = None,
) -> EventBase:
    """Shred `subject`'s key and payloads and submit a signed `redaction` event (one txn)."""
    from ledger.store.door import append, single_event
    from ledger.store.sequencer import log_signer

    origin = settings.origin(tenant)
    signer = log_signer(settings, conn)
    with conn.transaction():
        _not_held(conn, origin, subject)
        commitments = subject_commitments(conn, origin, subject)
        data: dict[str, Any] = {"subject": subject, "reason": reason, "commitments": commitments}
        if authorised_by:
            data["authorised_by"] = authorised_by
        data["signature"] = base64.b64encode(
            signer.key_id + signer.sign(redaction_message(origin, data))
        ).decode()
        event = single_event("redaction", data, tenant=tenant or settings.tenant)
        shred_subject(conn, origin, subject)
        append(conn, [event], settings, sequence=False)
    return event


def _not_held(conn: psycopg.Connection, origin: str, subject: str) -> None:
    """HoldBlocks (exit 1) when a legal hold in force covers `subject` (ledger.holds)."""
    from ledger.holds import HoldBlocks, subject_holds

    held = subject_holds(conn, origin, subject)
    if held:
        raise HoldBlocks(f"{held[0].line()} covers subject {subject!r} of {origin}: nothing was "
                         "redacted (`ledger hold release HOLD_ID` first)")  # fmt: skip


def redaction_message(origin: str, data: dict[str, Any]) -> bytes:
    """What the log key signs for a redaction: origin and the event data without `signature`."""
    unsigned = {k: v for k, v in data.items() if k != "signature" and v is not None}
    return b"agent-ledger/redaction/v1\n" + origin.encode() + b"\n" + canonical_bytes(unsigned)
