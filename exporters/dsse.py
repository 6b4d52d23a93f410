"""DSSE envelopes over in-toto Statements, signed and verified with Ed25519 (PyNaCl).

Why our own ~60 lines rather than a library: the offline verifier must not pull in anything
beyond PyNaCl, and DSSE is tiny. Interoperability is tested the other way round: the test
suite re-verifies our envelopes with securesystemslib (which uses `cryptography`).
PAE follows the DSSE v1 spec: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

import nacl.exceptions
import nacl.signing

from ledger.errors import VerificationFailed

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "DsseError",
    "dsse_keyid",
    "pae",
    "sign_envelope",
    "verify_envelope",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://agent-ledger.dev/evidence-bundle/v1"


class DsseError(VerificationFailed, ValueError):
    """The envelope is malformed or no trusted key signed it."""


class RawSigner(Protocol):
    """Anything with an Ed25519 public key and a raw `sign(message) -> 64 bytes`."""

    public_key: bytes

    def sign(self, message: bytes) -> bytes: ...


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def dsse_keyid(public_key: bytes) -> str:
    """Key id used in envelopes: hex SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()


def sign_envelope(statement: Mapping[str, Any], signers: list[RawSigner]) -> dict[str, Any]:
    """Serialise `statement` and return a DSSE envelope with one signature per signer."""
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    message = pae(PAYLOAD_TYPE, payload)
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [
            {"keyid": dsse_keyid(s.public_key), "sig": base64.b64encode(s.sign(message)).decode()}
            for s in signers
        ],
    }


def verify_envelope(
    envelope: Mapping[str, Any], trusted: Mapping[str, bytes]
) -> tuple[bytes, list[str]]:
    """Check signatures against `trusted` (keyid -> public key); return payload and signer ids.

    At least one signature by a trusted key must verify; a signature claiming a trusted key id
    that does not verify is an error (it is a forgery attempt, not an unknown signer).
    """
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise DsseError(f"payloadType must be {PAYLOAD_TYPE}")
    try:
        payload = base64.b64decode(str(envelope["payload"]), validate=True)
        sigs = list(envelope["signatures"])
    except (KeyError, TypeError, binascii.Error) as exc:
        raise DsseError(f"malformed envelope: {exc}") from None
    message = pae(PAYLOAD_TYPE, payload)
    good: list[str] = []
    unknown: list[str] = []
    for entry in sigs:
        keyid = str(entry.get("keyid", ""))
        key = trusted.get(keyid)
        if key is None:
            unknown.append(keyid[:16] or "<no keyid>")
            continue
        try:
            sig = base64.b64decode(str(entry.get("sig", "")), validate=True)
            nacl.signing.VerifyKey(key).verify(message, sig)
        except (binascii.Error, nacl.exceptions.BadSignatureError, ValueError) as exc:
            raise DsseError(f"bad signature by trusted key {keyid[:16]}: {exc}") from None
        good.append(keyid)
    if not good:
        raise DsseError(
            "no signature by a trusted key"
            + (f" (signed by unknown key(s) {', '.join(unknown)})" if unknown else "")
        )
    return payload, good
