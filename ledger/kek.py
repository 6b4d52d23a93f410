"""The subject key-encryption key (KEK): envelope encryption of the per-subject payload keys.

Why: a database dump used to hold every subject key in the clear, so a stolen backup decrypted
every private payload. Now each subject key is an X25519 key pair: the public half sits in
`ledger_subject_keys` in the clear (writers seal payloads to it and need no secret at all), the
private half only wrapped by the KEK, which never enters the database:

- file form (default, zero set-up): an X25519 pair at `<keys_dir>/subject-kek.key` (0600, written
  like the log key) plus `subject-kek.key.pub`; wrapping is a SealedBox to the KEK public key;
- PKCS#11 form (`LEDGER_SUBJECT_KEK=pkcs11:token=..;object=..`): an RSA pair in a token;
  wrapping is RSA-OAEP/SHA-256 in software with the public key read out of the token, unwrapping
  is a decryption inside the token, so the KEK private key never leaves it.

Readers (verification of payloads) unwrap with `open_kek`; writers only call `kek_public`.
Nothing here creates a KEK implicitly except `ensure_first_kek`, which the sequencer calls when
it creates the first log key of an empty ledger (DESIGN: no other key is created on first use).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import nacl.exceptions
import nacl.public

from ledger.errors import KeyUnavailable
from ledger.keys import (
    KeyFileError,
    create_secret_file,
    pub_path,
    read_secret_file,
    write_public_file,
)

if TYPE_CHECKING:
    from ledger.config import Settings

__all__ = [
    "SCHEME_LEGACY",
    "SCHEME_RSA",
    "SCHEME_SEALED",
    "KekError",
    "KekPublic",
    "KekSecret",
    "create_file_kek",
    "ensure_first_kek",
    "kek_path",
    "kek_public",
    "kek_spec",
    "open_kek",
]

SCHEME_SEALED = "x25519-sealed"
SCHEME_RSA = "pkcs11-rsa-oaep"
SCHEME_LEGACY = "legacy-secretbox"
_SECRET_TAG = "agent-ledger-subject-kek-x25519"  # noqa: S105 - a file tag, not a secret
_PUBLIC_TAG = "agent-ledger-subject-kek-x25519-pub"


class KekError(KeyUnavailable):
    """The subject key-encryption key is missing, unreadable, or cannot unwrap a subject key."""


class KekPublic(Protocol):
    """What a writer needs: wrap a fresh subject private key (no secret involved)."""

    @property
    def scheme(self) -> str: ...

    @property
    def kek_id(self) -> str: ...

    def wrap(self, subject_private: bytes) -> bytes: ...


class KekSecret(Protocol):
    """What a reader needs: unwrap a subject private key wrapped by this KEK."""

    @property
    def scheme(self) -> str: ...

    @property
    def kek_id(self) -> str: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


def kek_id_of(public: bytes) -> str:
    """Short, stable id of a KEK (hex of SHA-256 of its public key, 16 chars), stored per row."""
    return hashlib.sha256(public).hexdigest()[:16]


def kek_path(settings: Settings) -> Path:
    """The file KEK (its public half is the sibling `.pub`)."""
    return settings.keys_dir / "subject-kek.key"


def kek_spec(settings: Settings) -> str:
    """`LEDGER_SUBJECT_KEK` (or settings.extra['subject_kek']): a pkcs11: URI, or '' for a file."""
    return (settings.extra.get("subject_kek") or os.environ.get("LEDGER_SUBJECT_KEK", "")).strip()


def _missing(settings: Settings) -> KekError:
    path = kek_path(settings)
    return KekError(
        f"no subject key-encryption key at {path}: restore it, or create one with "
        "`ledger keys kek` (a new KEK cannot open subject keys wrapped by a lost one)"
    )


@dataclass(frozen=True)
class _SealedPublic:
    public: bytes
    scheme: str = SCHEME_SEALED

    @property
    def kek_id(self) -> str:
        return kek_id_of(self.public)

    def wrap(self, subject_private: bytes) -> bytes:
        return bytes(
            nacl.public.SealedBox(nacl.public.PublicKey(self.public)).encrypt(subject_private)
        )


class _SealedSecret:
    """The file KEK's private key (kept out of repr)."""

    scheme = SCHEME_SEALED

    def __init__(self, private: nacl.public.PrivateKey) -> None:
        self._box = nacl.public.SealedBox(private)
        self.public = bytes(private.public_key)
        self.kek_id = kek_id_of(self.public)

    def __repr__(self) -> str:
        return f"KekSecret({self.scheme}, {self.kek_id})"

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return bytes(self._box.decrypt(wrapped))
        except nacl.exceptions.CryptoError:
            raise KekError(f"subject KEK {self.kek_id} cannot unwrap this subject key") from None


def create_file_kek(settings: Settings) -> tuple[Path, bool]:
    """Create the file KEK (0600) and its `.pub` unless present; return (path, created)."""
    path = kek_path(settings)
    private = nacl.public.PrivateKey.generate()
    secret = base64.b64encode(bytes(private)).decode()
    created = create_secret_file(path, f"{_SECRET_TAG} {secret}\n".encode())
    del private, secret
    write_public_file(pub_path(path), _pub_line(_load_secret(path).public))
    return path, created


def ensure_first_kek(settings: Settings) -> None:
    """Create the file KEK beside the first log key of an empty ledger (the sequencer's call)."""
    if not kek_spec(settings) and not kek_path(settings).exists():
        create_file_kek(settings)


def _pub_line(public: bytes) -> bytes:
    return f"{_PUBLIC_TAG} {base64.b64encode(public).decode()}\n".encode()


def _load_secret(path: Path) -> _SealedSecret:
    try:
        data = read_secret_file(path)
    except KeyFileError as exc:
        raise KekError(str(exc)) from None
    tag, _, value = data.decode("ascii", "replace").strip().partition(" ")
    del data
    try:
        raw = base64.b64decode(value, validate=True)
        if tag != _SECRET_TAG or len(raw) != 32:
            raise ValueError
        return _SealedSecret(nacl.public.PrivateKey(raw))
    except ValueError:
        raise KekError(f"{path}: not a subject KEK file ({_SECRET_TAG} <base64>)") from None


def kek_public(settings: Settings) -> KekPublic:
    """The KEK public key for wrapping new subject keys (file `.pub`, or the token's RSA key)."""
    spec = kek_spec(settings)
    if spec:
        from ledger.kek_pkcs11 import token_kek_public

        return token_kek_public(spec)
    pub = pub_path(kek_path(settings))
    try:
        tag, _, value = pub.read_text(encoding="ascii").strip().partition(" ")
    except FileNotFoundError:
        raise _missing(settings) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KekError(f"{pub}: cannot read subject KEK public key ({exc})") from None
    try:
        raw = base64.b64decode(value, validate=True)
        if tag != _PUBLIC_TAG or len(raw) != 32:
            raise ValueError
    except ValueError:
        raise KekError(f"{pub}: not a subject KEK public key ({_PUBLIC_TAG} <base64>)") from None
    return _SealedPublic(raw)


def open_kek(settings: Settings) -> KekSecret:
    """The KEK that unwraps subject keys: the file's private key, or the token's RSA key."""
    spec = kek_spec(settings)
    if spec:
        from ledger.kek_pkcs11 import token_kek

        return token_kek(spec)
    path = kek_path(settings)
    try:
        return _load_secret(path)
    except FileNotFoundError:
        raise _missing(settings) from None
