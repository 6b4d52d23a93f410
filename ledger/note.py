"""C2SP signed-note and tlog-checkpoint formats with Ed25519 keys (PyNaCl).

Why: checkpoints are the only thing the ledger publishes to auditors and
witnesses, so they must be byte-compatible with the Go ecosystem
(golang.org/x/mod/sumdb/note, transparency-dev witnesses). Parsing is strict
and follows the signed-note rules: a bad signature from a *known* key poisons
the whole note, signatures from unknown keys are kept but ignored, and a note
without a verified signature from a trusted key is rejected.

Secrets discipline: no repr/str/exception message ever contains seed bytes;
functions that hold secret material drop it from their frame before raising
so that tracebacks captured with locals stay clean.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

import nacl.exceptions
import nacl.signing

from ledger.errors import InputError

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteError",
    "NoteSignature",
    "OpenedNote",
    "Signer",
    "Verifier",
    "add_signatures",
    "key_id",
    "open_note",
    "parse_note",
    "trusted_names",
]

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100
SIG_PREFIX = "\u2014 "  # em dash, space
_SIZE_RE = re.compile(r"(?:0|[1-9][0-9]*)\Z", re.ASCII)
_HEX8_RE = re.compile(r"[0-9a-f]{8}\Z", re.ASCII)
_MAX_SIZE = (1 << 64) - 1


class NoteError(InputError, ValueError):
    """A note, checkpoint or key string is malformed or fails verification."""


def _fail(message: str) -> NoReturn:
    raise NoteError(message)


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def is_valid_name(name: str) -> bool:
    """Key names: non-empty, no Unicode whitespace, no '+', no control characters."""
    return (
        bool(name)
        and "+" not in name
        and not any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
    )


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    data = name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(data).digest()[:4]


def _check_text(text: str, what: str) -> None:
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            _fail(f"{what} contains an ASCII control character")


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier: key name, 4-byte key ID and 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_name(self.name):
            _fail("invalid key name")
        if len(self.public_key) != 32:
            _fail("Ed25519 public key must be 32 bytes")
        if self.key_id != key_id(self.name, self.public_key):
            _fail(f"key ID does not match key for {self.name!r}")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> Verifier:
        return cls(name, key_id(name, public_key), bytes(public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse `<name>+<hex key id>+<base64(0x01 || public key)>`."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            _fail("malformed verifier key: want name+keyid+key")
        name, hex_id, key64 = parts
        if not is_valid_name(name) or not _HEX8_RE.match(hex_id):
            _fail("malformed verifier key: bad name or key id")
        raw = _b64decode(key64)
        if raw is None or len(raw) != 33 or raw[0] != ALG_ED25519:
            _fail(f"malformed verifier key for {name!r}: want base64(0x01 || 32-byte key)")
        verifier = cls.from_public_key(name, raw[1:])
        if verifier.key_id.hex() != hex_id:
            _fail(f"verifier key for {name!r}: key id does not match key")
        return verifier

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([ALG_ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return True iff `signature` is a valid Ed25519 signature of `message`."""
        if len(signature) != 64:
            return False
        try:
            nacl.signing.VerifyKey(self.public_key).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
            return False
        return True


class Signer:
    """An Ed25519 note signer. Its repr/str show only the key name and key ID."""

    __slots__ = ("_signing_key", "key_id", "name", "public_key")

    def __init__(self, name: str, seed: bytes) -> None:
        problem = None
        if not is_valid_name(name):
            problem = "invalid key name"
        elif not isinstance(seed, bytes | bytearray) or len(seed) != 32:
            problem = "Ed25519 seed must be 32 bytes"
        if problem is not None:
            del seed  # keep secrets out of tracebacks captured with locals
            _fail(problem)
        self._signing_key = nacl.signing.SigningKey(bytes(seed))
        del seed
        self.name: str = name
        self.public_key: bytes = bytes(self._signing_key.verify_key.encode())
        self.key_id: bytes = key_id(name, self.public_key)

    def __repr__(self) -> str:
        name = getattr(self, "name", None)
        kid = getattr(self, "key_id", b"")
        return f"Signer(name={name!r}, key_id={kid.hex()})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("Signer objects hold secret keys and cannot be pickled or copied")

    @classmethod
    def generate(cls, name: str) -> Signer:
        """Create a signer with a fresh random seed."""
        return cls(name, bytes(nacl.signing.SigningKey.generate().encode()))

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`."""
        parsed = _parse_skey(skey)
        del skey
        if isinstance(parsed, str):
            _fail(parsed)
        name, seed, expected = parsed
        del parsed
        try:
            signer = cls(name, seed)
        finally:
            del seed
        if signer.key_id != expected:
            _fail(f"signer key for {signer.name!r}: key id does not match key")
        return signer

    def private_key_string(self) -> str:
        """Return the secret `PRIVATE+KEY+...` string. Handle with care."""
        seed = bytes(self._signing_key.encode())
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{_b64(bytes([ALG_ED25519]) + seed)}"

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.public_key)

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def sign(self, message: bytes) -> bytes:
        """Return the raw 64-byte Ed25519 signature of `message`."""
        return bytes(self._signing_key.sign(message).signature)

    def signature_line(self, body: bytes) -> str:
        """Return `— <name> <base64(key id || sig)>\\n` over a valid note body."""
        _check_body(body)
        return f"{SIG_PREFIX}{self.name} {_b64(self.key_id + self.sign(body))}\n"

    def sign_note(self, body: bytes) -> bytes:
        """Return the complete signed note: body, blank line, one signature line."""
        return body + b"\n" + self.signature_line(body).encode("utf-8")


def _parse_skey(skey: str) -> tuple[str, bytes, bytes] | str:
    """Return (name, seed, key id) or a secret-free error message."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        return "malformed signer key: want PRIVATE+KEY+name+keyid+key"
    name, hex_id = parts[2], parts[3]
    if not is_valid_name(name) or not _HEX8_RE.match(hex_id):
        return "malformed signer key: bad name or key id"
    raw = _b64decode(parts[4])
    if raw is None or len(raw) != 33 or raw[0] != ALG_ED25519:
        return f"malformed signer key for {name!r}: want base64(0x01 || 32-byte seed)"
    return name, raw[1:], bytes.fromhex(hex_id)


# --------------------------------------------------------------------------- notes


@dataclass(frozen=True)
class NoteSignature:
    """One parsed signature line; `line` is the exact text without the newline."""

    name: str
    key_id: bytes
    signature: bytes
    line: str


@dataclass
class OpenedNote:
    """Result of `open_note`: the signed body and who verified it."""

    body: bytes
    verified_by: list[Verifier]
    unverified_names: list[str]
    signatures: list[NoteSignature] = field(default_factory=list)


def _check_body(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        _fail("note text is not valid UTF-8")
    if not text.endswith("\n"):
        _fail("note text must end with a newline")
    _check_text(text, "note text")
    return text


def _parse_sig_line(line: str) -> NoteSignature:
    if not line.startswith(SIG_PREFIX):
        _fail("malformed signature line: missing em dash prefix")
    name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
    if not sep or not is_valid_name(name) or not b64:
        _fail("malformed signature line: bad key name or missing signature")
    raw = _b64decode(b64)
    if raw is None or len(raw) < 5:
        _fail(f"malformed signature line for {name!r}: bad base64 signature")
    return NoteSignature(name, raw[:4], raw[4:], line)


def parse_note(note: bytes) -> tuple[bytes, list[NoteSignature]]:
    """Syntactically split a signed note into body and signatures (no verification)."""
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        _fail("note is not valid UTF-8")
    _check_text(text, "note")
    split = text.rfind("\n\n")
    if split < 0:
        _fail("malformed note: no blank line before signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        _fail("malformed note: signature block missing or lacks final newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        _fail(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return body.encode("utf-8"), [_parse_sig_line(line) for line in lines]


def trusted_names(body: bytes, verifiers: Sequence[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    """(key name, key id) a trusted signature may carry -> the trusted verifier it belongs to.

    Each key is accepted under its own name and under the note's origin (the body's first line):
    C2SP checkpoints name their signing key after the origin, while pins, bundles and vkeys made
    before that carry the log's legacy key name. Both are the same Ed25519 key, so accepting
    either name trusts no other key; `verified_by` reports the verifier as it was trusted.
    """
    known: dict[tuple[str, bytes], Verifier] = {(v.name, v.key_id): v for v in verifiers}
    origin = body.split(b"\n", 1)[0].decode("utf-8", "replace")
    if is_valid_name(origin):
        for v in verifiers:
            known.setdefault((origin, key_id(origin, v.public_key)), v)
    return known


def open_note(note: bytes, verifiers: Sequence[Verifier]) -> OpenedNote:
    """Parse and verify a signed note against trusted `verifiers`."""
    body, sigs = parse_note(note)
    known = trusted_names(body, verifiers)
    verified: list[Verifier] = []
    unverified: list[str] = []
    seen_known: set[tuple[str, bytes]] = set()
    seen_lines: set[str] = set()
    kept: list[NoteSignature] = []
    for sig in sigs:
        if sig.line in seen_lines:
            continue  # drop exact duplicate lines
        seen_lines.add(sig.line)
        kept.append(sig)
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig.name)
            continue
        # Every signature by a known key is checked, even repeats: one bad one poisons all.
        if not verifier.verify(body, sig.signature):
            _fail(f"invalid signature by known key {sig.name!r} ({sig.key_id.hex()})")
        if (sig.name, sig.key_id) not in seen_known:
            seen_known.add((sig.name, sig.key_id))
            if verifier not in verified:  # one key, two names: reported once
                verified.append(verifier)
    if not verified:
        _fail("no signature by a trusted key")
    return OpenedNote(body, verified, unverified, kept)


def add_signatures(note: bytes, extra_sig_lines: Sequence[str | bytes]) -> bytes:
    """Append signature lines (e.g. witness cosignatures), keeping existing ones.

    Lines are validated syntactically; exact duplicates are skipped. No
    verification happens here: use `open_note` for that.
    """
    body, sigs = parse_note(note)
    lines = [s.line for s in sigs]
    for extra in extra_sig_lines:
        text = extra.decode("utf-8") if isinstance(extra, bytes) else extra
        text = text.removesuffix("\n")
        _check_text(text, "signature line")
        if "\n" in text:
            _fail("signature line must be a single line")
        _parse_sig_line(text)
        if text not in lines:
            lines.append(text)
    if len(lines) > MAX_SIGNATURES:
        _fail(f"too many signatures: more than {MAX_SIGNATURES}")
    return body + b"\n" + "".join(line + "\n" for line in lines).encode("utf-8")


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """C2SP tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            _fail("checkpoint origin must be a non-empty single line")
        _check_text(self.origin, "checkpoint origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            _fail("checkpoint size must be an int")
        if not 0 <= self.size <= _MAX_SIZE:
            _fail("checkpoint size out of range")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            _fail("checkpoint root hash must be 32 bytes")
        for ext in self.extensions:
            if not ext or "\n" in ext:
                _fail("checkpoint extension lines must be non-empty single lines")
            _check_text(ext, "checkpoint extension")

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        """Strictly parse a checkpoint body (the text of a signed note)."""
        text = _check_body(body)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            _fail("checkpoint needs origin, size and root hash lines")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE_RE.match(size_text):
            _fail("checkpoint size must be decimal without leading zeros")
        root = _b64decode(root_text)
        if root is None or len(root) != 32 or _b64(root) != root_text:
            _fail("checkpoint root must be canonical base64 of 32 bytes")
        return cls(origin, int(size_text), root, tuple(extensions))
