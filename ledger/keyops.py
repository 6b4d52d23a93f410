"""Key rotation and revocation as logged, endorsed events (`ledger keys rotate|revoke`).

Why: a new log key is only believable if the old one vouches for it inside the log itself, at a
known tree size (reference/ledgers.md §5.8). Rotation holds sequencer leadership for its whole
transaction: it drains intake with the old key, logs one `key.rotated` event per origin whose
endorsement (old key) covers the new vkey and `valid_from_size` = current size + 1, sequences it
with the new key, then swaps the key file (the old one is kept as `log.key.retired-<id>`, 0600).
The original public key is saved once as `keys/root.pub`, the trust root verifiers start from.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ledger.config import Settings
from ledger.errors import InputError
from ledger.hsm import Pkcs11Signer
from ledger.keyring import endorse
from ledger.keys import replace_signer
from ledger.note import Signer
from ledger.store.door import append, single_event
from ledger.store.read import latest_checkpoint, origins
from ledger.store.sequencer import (
    configured_witness,
    log_signer,
    sequence_batch,
    take_leadership,
)
from ledger.verify import key_ring, trusted_verifiers

__all__ = ["KeyOpError", "RotationResult", "revoke_key", "rotate_log_key"]


class KeyOpError(InputError, ValueError):
    """A rotation or revocation that must not happen (message names the reason)."""


@dataclass
class RotationResult:
    old_key_id: str
    new_key_id: str
    new_vkey: str
    valid_from: dict[str, int]


def _tenant(origin: str) -> str:
    return origin.rsplit("/", 1)[1]


def _size(conn: psycopg.Connection, origin: str) -> int:
    latest = latest_checkpoint(conn, origin)
    return latest.tree_size if latest else 0


def _drain(conn: psycopg.Connection, settings: Settings, signer: Signer) -> None:
    while True:
        batch = sequence_batch(conn, settings, signer, wait=True)
        if batch is None or not batch.progressed:
            return


def rotate_log_key(
    conn: psycopg.Connection, settings: Settings, reason: str = "rotation"
) -> RotationResult:
    """Rotate the log key; returns the new key id and each origin's valid_from_size."""
    old = log_signer(settings, conn)
    if isinstance(old, Pkcs11Signer):
        raise KeyOpError(
            f"the log key lives in PKCS#11 token {old.token_label!r}: rotation writes a key file; "
            "unset LEDGER_LOG_KEY to rotate to a file key"
        )
    new = Signer.generate(old.name)
    root = settings.keys_dir / "root.pub"
    if not root.exists():
        root.write_text(old.vkey + "\n", encoding="utf-8")
    valid_from: dict[str, int] = {}
    with conn.transaction():
        take_leadership(conn)
        _drain(conn, settings, old)
        events = []
        for origin in origins(conn) or [settings.origin()]:
            start = _size(conn, origin) + 1
            valid_from[origin] = start
            events.append(
                single_event(
                    "key.rotated",
                    tenant=_tenant(origin),
                    data={
                        "key_name": new.name,
                        "key_id": new.key_id.hex(),
                        "vkey": new.vkey,
                        "kind": "log",
                        "valid_from_size": start,
                        "reason": reason,
                        "endorsement": endorse(old, "key.rotated", origin, new.vkey, start, None),
                    },
                )
            )
        append(conn, events, settings, sequence=False)
        witness = configured_witness(settings)
        if witness is not None:
            for origin in valid_from:
                witness.add_log(origin, [new.vkey])
        _drain(conn, settings, new)
        replace_signer(settings.log_key_path, new)
    return RotationResult(old.key_id.hex(), new.key_id.hex(), new.vkey, valid_from)


def revoke_key(
    conn: psycopg.Connection, settings: Settings, key_id: str, from_size: int, reason: str
) -> list[str]:
    """Log `key.revoked` for `key_id` from tree size `from_size` onward; returns origins touched."""
    current = log_signer(settings, conn)
    if current.key_id.hex() == key_id:
        raise KeyOpError("cannot revoke the key in use: run `ledger keys rotate` first")
    done: list[str] = []
    with conn.transaction():
        take_leadership(conn)
        _drain(conn, settings, current)
        events = []
        for origin in origins(conn):
            ring = key_ring(conn, origin, trusted_verifiers(settings))
            found = [w.verifier for w in ring.windows if w.verifier.key_id.hex() == key_id]
            if not found:
                continue
            vkey = found[0].vkey
            events.append(
                single_event(
                    "key.revoked",
                    tenant=_tenant(origin),
                    data={
                        "key_name": found[0].name,
                        "key_id": key_id,
                        "vkey": vkey,
                        "kind": "log",
                        "valid_to_size": from_size,
                        "reason": reason,
                        "endorsement": endorse(
                            current, "key.revoked", origin, vkey, None, from_size
                        ),
                    },
                )
            )
            done.append(origin)
        if not events:
            raise KeyOpError(f"key {key_id} is not in the key ring of any log")
        append(conn, events, settings, sequence=False)
        _drain(conn, settings, current)
    return done
