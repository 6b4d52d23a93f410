"""A witness: cosigns a checkpoint only if it is consistent with the last one it cosigned.

Why: the log key alone cannot stop a truncated tail, a rewritten history or a split view; an
independent party that remembers the newest checkpoint it saw and refuses to go backwards can.
This module is that party. It imports no database code: it keeps its own Ed25519 key file
(0600; or a key in a PKCS#11 token, `key=pkcs11:...`) and its own state directory, and writes
its state atomically (temp + fsync + rename), under an exclusive file lock, so it can run as a
separate process in another trust domain.

Cosignatures follow C2SP tlog-cosignature (cosignature/v1): the signed message is
"cosignature/v1\\ntime <unix seconds>\\n" followed by the checkpoint body; the signature line is
"— <name> base64(key id || uint64 big-endian timestamp || Ed25519 signature)" with key id =
SHA-256(name || 0x0A || 0x04 || public key)[:4]. Lines are appended with `note.add_signatures`.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.signing

from ledger.errors import VerificationFailed
from ledger.keys import load_key
from ledger.merkle import ProofError, verify_consistency
from ledger.note import Checkpoint, NoteError, Verifier, add_signatures, open_note, parse_note

__all__ = [
    "ALG_COSIGNATURE_V1",
    "CosignatureVerifier",
    "Witness",
    "WitnessRefused",
    "cosignature_message",
]

ALG_COSIGNATURE_V1 = 0x04
_PREFIX = "\u2014 "


class WitnessRefused(VerificationFailed):
    """The witness refuses to cosign; `code` is one of the documented reasons."""

    label = "refused"
    CODES = ("unknown-origin", "bad-signature", "stale", "equivocation", "inconsistent", "conflict")

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def cosignature_message(body: bytes, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs."""
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(
        name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key
    ).digest()[:4]


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness public key (cosignature/v1 vkey: name+keyid+base64(0x04 || key))."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        raw = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("malformed witness vkey: want name+keyid+key")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError:
            raise NoteError("malformed witness vkey: bad base64") from None
        if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise NoteError("witness vkey must be base64(0x04 || 32-byte Ed25519 key)")
        verifier = cls(parts[0], raw[1:])
        if verifier.key_id.hex() != parts[1]:
            raise NoteError("witness vkey: key id does not match key")
        return verifier

    def timestamp(self, note: bytes) -> int:
        """Verify this witness's cosignature on `note`; return its time. Raises NoteError."""
        body, sigs = parse_note(note)
        for sig in sigs:
            if sig.name != self.name or sig.key_id != self.key_id:
                continue
            if len(sig.signature) != 72:
                raise NoteError(f"malformed cosignature by {self.name!r}")
            ts = int.from_bytes(sig.signature[:8], "big")
            try:
                nacl.signing.VerifyKey(self.public_key).verify(
                    cosignature_message(body, ts), sig.signature[8:]
                )
            except nacl.exceptions.BadSignatureError:
                raise NoteError(f"invalid cosignature by witness {self.name!r}") from None
            return ts
        raise NoteError(f"no cosignature by witness {self.name!r}")


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class Witness:
    """A witness with its state in `state_dir` (key, trusted logs, last cosigned checkpoints).

    The key is `state_dir/witness.key` (created on first use) unless `key` names an existing
    key file or a `pkcs11:` URI: then the key is only loaded, never created, so a mistyped
    setting can never leave the witness signing with a fresh file key instead of its token.
    """

    def __init__(
        self, state_dir: Path, name: str = "agent-ledger-witness", *, key: str | Path | None = None
    ) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if key is None:
            self._signer = load_key(self.dir / "witness.key", name, create=True, write_pub=False)
        else:
            self._signer = load_key(key, name)
        self.verifier = CosignatureVerifier(self._signer.name, self._signer.public_key)
        vkey_file = self.dir / "witness.vkey"
        if not vkey_file.exists() or vkey_file.read_text().strip() != self.verifier.vkey:
            _fsync_write(vkey_file, (self.verifier.vkey + "\n").encode())

    def __repr__(self) -> str:
        return f"Witness({str(self.dir)!r}, {self.verifier.vkey!r})"

    # -- state
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self, name: str) -> dict[str, object]:
        path = self.dir / name
        if not path.exists():
            return {}
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}

    def add_log(self, origin: str, vkeys: Sequence[str]) -> None:
        """Trust `origin` signed by any of `vkeys` (log verifier keys)."""
        for vkey in vkeys:
            Verifier.from_vkey(vkey)
        with self._locked():
            logs = self._read("logs.json")
            current = logs.get(origin)
            known = [str(v) for v in current] if isinstance(current, list) else []
            logs[origin] = sorted({*known, *vkeys})
            _fsync_write(
                self.dir / "logs.json", json.dumps(logs, indent=2, sort_keys=True).encode()
            )

    def knows(self, origin: str) -> bool:
        """Whether a log key is configured for `origin`."""
        return bool(self._read("logs.json").get(origin))

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        """(size, root) of the last checkpoint cosigned for `origin`, or None."""
        entry = self._read("state.json").get(origin)
        if not isinstance(entry, dict):
            return None
        return int(entry["size"]), bytes.fromhex(str(entry["root"]))

    # -- cosigning
    def cosign(
        self,
        note: bytes,
        consistency_proof: Sequence[bytes],
        old_size: int | None = None,
        now: int | None = None,
    ) -> bytes:
        """Return `note` with this witness's cosignature, or raise WitnessRefused.

        `consistency_proof` goes from the last cosigned size of the origin to the note's size;
        `old_size`, when given, must equal that last size (otherwise `conflict`).
        """
        try:
            body, _sigs = parse_note(note)
            cp = Checkpoint.parse(body)
        except NoteError as exc:
            raise WitnessRefused("bad-signature", f"malformed checkpoint note: {exc}") from None
        with self._locked():
            logs = self._read("logs.json")
            vkeys = logs.get(cp.origin)
            if not isinstance(vkeys, list) or not vkeys:
                raise WitnessRefused(
                    "unknown-origin", f"no trusted log key for origin {cp.origin!r}"
                )
            try:
                open_note(note, [Verifier.from_vkey(str(v)) for v in vkeys])
            except NoteError as exc:
                raise WitnessRefused("bad-signature", f"{cp.origin}: {exc}") from None
            state = self._read("state.json")
            last = self.latest(cp.origin)
            if last is not None:
                self._check(cp, last, consistency_proof, old_size)
            elif old_size not in (None, 0):
                raise WitnessRefused(
                    "conflict", f"witness has no state for {cp.origin}; old size must be 0"
                )
            state[cp.origin] = {"size": cp.size, "root": cp.root.hex()}
            ts = int(time.time()) if now is None else now
            sig = self._signer.sign(cosignature_message(body, ts))
            raw = self.verifier.key_id + ts.to_bytes(8, "big") + sig
            line = f"{_PREFIX}{self.verifier.name} {base64.b64encode(raw).decode()}"
            _fsync_write(
                self.dir / "state.json", json.dumps(state, indent=2, sort_keys=True).encode()
            )
        return add_signatures(note, [line])

    def _check(
        self, cp: Checkpoint, last: tuple[int, bytes], proof: Sequence[bytes], old_size: int | None
    ) -> None:
        size, root = last
        if old_size is not None and old_size != size:
            raise WitnessRefused(
                "conflict", f"{cp.origin}: witness is at size {size}, not {old_size}"
            )
        if cp.size < size:
            raise WitnessRefused(
                "stale",
                f"{cp.origin}: checkpoint size {cp.size} is older than the cosigned size {size} "
                "(truncated log or replayed checkpoint)",
            )
        if cp.size == size:
            if cp.root != root:
                self._evidence(cp)
                raise WitnessRefused(
                    "equivocation", f"{cp.origin}: two different signed roots for size {size}"
                )
            return
        try:
            verify_consistency(size, cp.size, root, cp.root, proof)
        except ProofError as exc:
            self._evidence(cp)
            raise WitnessRefused(
                "inconsistent",
                f"{cp.origin}: size {cp.size} is not an extension of cosigned size {size} "
                f"(rewritten history or fork): {exc}",
            ) from None

    def _evidence(self, cp: Checkpoint) -> None:
        folder = self.dir / "evidence"
        folder.mkdir(exist_ok=True, mode=0o700)
        name = f"{cp.size}-{cp.root.hex()[:16]}.checkpoint"
        _fsync_write(folder / name, cp.body())
