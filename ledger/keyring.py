"""Log-key ring with validity by tree size, built from trusted roots plus in-log key events.

Why: a log key must be rotatable and revocable without breaking old checkpoints, and a verifier
must never trust a key the server merely reports (CVE-2022-39199). The auditor pins root key(s);
every later key is learned from a `key.rotated`/`key.announced` event in the log whose
`endorsement` is a signature, by a key valid at that point, over the new vkey and its
`valid_from_size`. `key.revoked` ends a key's validity at `valid_to_size` (compromise).

A checkpoint of size S counts only if signed by a key with valid_from <= S < valid_to.
Rotation at tree size F-1 makes the new key valid from F and the old key valid below F.
No database imports: the verifier passes the key events in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.note import Signer, Verifier

__all__ = ["KeyRing", "KeyWindow", "endorse", "endorsement_message"]

KEY_EVENT_TYPES = ("key.announced", "key.rotated", "key.revoked")


def endorsement_message(
    event_type: str, origin: str, vkey: str, valid_from: int | None, valid_to: int | None
) -> bytes:
    """The bytes an endorsement signs (domain-separated, one field per line)."""
    fields = [
        "agent-ledger/key-endorsement/v1",
        event_type,
        origin,
        vkey,
        "" if valid_from is None else str(valid_from),
        "" if valid_to is None else str(valid_to),
    ]
    return "".join(f + "\n" for f in fields).encode("utf-8")


def endorse(  # noqa: PLR0917 - positional helper with a fixed, documented order
    signer: Signer,
    event_type: str,
    origin: str,
    vkey: str,
    valid_from: int | None,
    valid_to: int | None,
) -> str:
    """base64(key id || Ed25519 signature) by `signer` over the endorsement message."""
    sig = signer.sign(endorsement_message(event_type, origin, vkey, valid_from, valid_to))
    return base64.b64encode(signer.key_id + sig).decode("ascii")


@dataclass
class KeyWindow:
    """One key and the tree sizes it may sign: valid_from <= size < valid_to (None = open)."""

    verifier: Verifier
    valid_from: int = 0
    valid_to: int | None = None

    def valid(self, size: int) -> bool:
        return self.valid_from <= size and (self.valid_to is None or size < self.valid_to)


class KeyRing:
    """Trusted roots plus endorsed in-log key events for one origin."""

    def __init__(self, roots: Sequence[Verifier]) -> None:
        self.windows: list[KeyWindow] = [KeyWindow(v) for v in roots]

    def verifiers(self) -> list[Verifier]:
        """Every key the ring knows (for `open_note`); validity is checked with `valid_keys`."""
        return [w.verifier for w in self.windows]

    def window(self, verifier: Verifier) -> KeyWindow | None:
        for w in self.windows:
            if (
                w.verifier.key_id == verifier.key_id
                and w.verifier.public_key == verifier.public_key
            ):
                return w
        return None

    def valid(self, verifier: Verifier, size: int) -> bool:
        w = self.window(verifier)
        return w is not None and w.valid(size)

    def _endorser(self, endorsement: Any, message: bytes, size: int) -> KeyWindow | None:
        try:
            raw = base64.b64decode(str(endorsement), validate=True)
        except (binascii.Error, ValueError):
            return None
        for w in self.windows:
            if (
                raw[:4] == w.verifier.key_id
                and w.valid(size)
                and w.verifier.verify(message, raw[4:])
            ):
                return w
        return None

    def apply(self, seq: int, origin: str, event: dict[str, Any]) -> str | None:
        """Apply one key event (in log order); return a reason string when it is not endorsed."""
        kind = event.get("type")
        data = event.get("data") or {}
        vkey = str(data.get("vkey", ""))
        start, end = data.get("valid_from_size"), data.get("valid_to_size")
        message = endorsement_message(str(kind), origin, vkey, start, end)
        if kind in ("key.rotated", "key.announced"):
            if not isinstance(start, int):
                return f"key event at seq {seq}: valid_from_size missing"
            endorser = self._endorser(data.get("endorsement"), message, max(start - 1, 0))
            if endorser is None:
                return (
                    f"key event at seq {seq}: endorsement is not by a key valid at size {start - 1}"
                )
            try:
                new = Verifier.from_vkey(vkey)
            except ValueError:
                return f"key event at seq {seq}: malformed vkey"
            if kind == "key.rotated" and (endorser.valid_to is None or endorser.valid_to > start):
                endorser.valid_to = start
            if self.window(new) is None:
                self.windows.append(KeyWindow(new, start, end))
            return None
        if kind == "key.revoked":
            if not isinstance(end, int):
                return f"key event at seq {seq}: valid_to_size missing"
            endorser = self._endorser(data.get("endorsement"), message, seq)
            if endorser is None:
                return f"key event at seq {seq}: revocation not endorsed by a key valid at {seq}"
            for w in self.windows:
                if w.verifier.key_id.hex() == data.get("key_id") and (
                    w.valid_to is None or w.valid_to > end
                ):
                    w.valid_to = end
            return None
        return None
