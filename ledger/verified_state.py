"""The verifier's own memory: the newest checkpoint verified per origin, kept OUTSIDE the database.

Why outside: an incremental verify trusts everything below the size it starts from. If that size
and root lived in the database, whoever can rewrite the database could also move the starting
point past a rewrite. So, like a witness (ledger.witness), the verifier keeps the signed note of
the newest checkpoint it verified per origin in its own directory (`--state DIR`,
`LEDGER_VERIFY_STATE`, default `<home>/verified/`): one file per origin, `<origin, %-quoted>.note`,
written under an exclusive lock to a temp file, fsynced and renamed, so a crash leaves the old
note or the new one, never half of either. It only moves forward: a smaller size never replaces
a larger one. The notes are signed; whoever reads them opens them with the trusted keys again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from ledger.config import Settings
from ledger.errors import InputError
from ledger.note import Checkpoint, NoteError, parse_note
from ledger.witness import _fsync_write as fsync_write

__all__ = ["ENV", "NoVerifiedState", "VerifiedState", "state_dir"]

ENV = "LEDGER_VERIFY_STATE"
_SUFFIX = ".note"


class NoVerifiedState(InputError):
    """`latest-verified` was asked for but nothing was ever verified into this state directory."""


def state_dir(settings: Settings, given: Path | None = None) -> Path:
    """`--state DIR`, else LEDGER_VERIFY_STATE, else `<home>/verified`."""
    if given is not None:
        return given
    env = os.environ.get(ENV)
    return Path(env) if env else settings.home / "verified"


@dataclass(frozen=True)
class Recorded:
    """One origin's newest verified checkpoint as stored: its parsed body and the note bytes."""

    checkpoint: Checkpoint
    note: bytes


def _parsed(note: bytes) -> Checkpoint | None:
    try:
        return Checkpoint.parse(parse_note(note)[0])
    except (NoteError, ValueError):
        return None


class VerifiedState:
    """The directory of verified notes (created 0700 on first write)."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    def _path(self, origin: str) -> Path:
        return self.dir / (quote(origin, safe="") + _SUFFIX)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def record(self, note: bytes) -> bool:
        """Store `note` (a checkpoint just verified) unless a larger size is already stored;
        True when stored. The caller has verified it; this only keeps it."""
        cp = _parsed(note)
        if cp is None:
            raise NoteError("not a checkpoint note")
        with self._locked():
            old = self.get(cp.origin)
            if old is not None and old.checkpoint.size > cp.size:
                return False
            fsync_write(self._path(cp.origin), note)
        return True

    def get(self, origin: str) -> Recorded | None:
        """The stored note of `origin` (None when absent or unreadable)."""
        path = self._path(origin)
        if not path.is_file():
            return None
        note = path.read_bytes()
        cp = _parsed(note)
        return None if cp is None or cp.origin != origin else Recorded(cp, note)

    def all(self) -> dict[str, Recorded]:
        """Every origin's stored note, by origin."""
        if not self.dir.is_dir():
            return {}
        found: dict[str, Recorded] = {}
        for path in sorted(self.dir.glob("*" + _SUFFIX)):
            recorded = self.get(unquote(path.name.removesuffix(_SUFFIX)))
            if recorded is not None:
                found[recorded.checkpoint.origin] = recorded
        return found

    def require_all(self) -> dict[str, Recorded]:
        """`all()`, or NoVerifiedState when empty (`--from-checkpoint latest-verified`)."""
        found = self.all()
        if not found:
            raise NoVerifiedState(
                f"no verified checkpoint in {self.dir}: run `ledger verify` once first"
            )
        return found
