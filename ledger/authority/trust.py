"""The trust anchor: administrator public keys the verifier brings, never the database's word.

Why out of band: a registry is only as good as the key that signed it. If the key came from the
database (or from a file the ledger home wrote on its own), a writer who can write events could
publish a registry signed by a key of their own and name themselves an approver. So the
administrator keys come from `LEDGER_TRUST_ROOT` or `--trust-root`: a file of note verifier keys
(`name+keyid+base64`, one per line, `#` comments), such as the `.pub` that `ledger keys admin`
writes. Without one, every verdict that depends on the registry is `unknown`, with
`NO_TRUST_ROOT` as the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError
from ledger.note import NoteError, Verifier

__all__ = ["NO_TRUST_ROOT", "TRUST_ROOT_ENV", "TrustRoot", "TrustRootError", "trust_root"]

TRUST_ROOT_ENV = "LEDGER_TRUST_ROOT"
NO_TRUST_ROOT = f"no trust root given (set {TRUST_ROOT_ENV} or --trust-root)"
_MAX_FILE = 64 * 1024


class TrustRootError(InputError):
    """The trust root file is missing, unreadable or names no valid administrator key."""


@dataclass(frozen=True, slots=True)
class TrustRoot:
    """The administrator verifier keys, and where they came from (for messages)."""

    verifiers: tuple[Verifier, ...]
    source: str

    @classmethod
    def read(cls, path: Path) -> TrustRoot:
        """Parse a trust root file; one bad line fails the whole file (no silent skipping)."""
        try:
            text = path.read_bytes()[: _MAX_FILE + 1]
        except OSError as exc:
            raise TrustRootError(f"trust root {path}: cannot read ({exc.strerror})") from None
        if len(text) > _MAX_FILE:
            raise TrustRootError(f"trust root {path}: file too large for a list of public keys")
        verifiers: list[Verifier] = []
        for number, raw in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("PRIVATE+KEY"):
                raise TrustRootError(f"trust root {path}:{number}: a private key; give the .pub")
            try:
                verifiers.append(Verifier.from_vkey(line))
            except NoteError as exc:
                raise TrustRootError(f"trust root {path}:{number}: {exc}") from None
        if not verifiers:
            raise TrustRootError(f"trust root {path}: names no administrator key")
        return cls(tuple(verifiers), str(path))

    def verifier(self, key_name: str, key_id_hex: str) -> Verifier | None:
        """The administrator key with this name and key id, or None."""
        return next(
            (v for v in self.verifiers if v.name == key_name and v.key_id.hex() == key_id_hex),
            None,
        )


def trust_root(option: str | Path | None = None) -> TrustRoot | None:
    """The trust root from `--trust-root` (first) or `LEDGER_TRUST_ROOT`; None when neither."""
    chosen = option if option not in (None, "") else os.environ.get(TRUST_ROOT_ENV) or None
    return None if chosen is None else TrustRoot.read(Path(chosen))
