"""The sequencer's stamp chain: `submitted_by` and `recorded_at` made tamper-evident.

Neither column is part of an event's body (a writer cannot choose them), so the Merkle tree over
leaves does not cover them. The sequencer folds every event of an origin, in `seq` order, into a
hash chain

    head' = SHA-256("agent-ledger/stamp/v1" 0x00 || head || leaf || seq || recorded_at || role)

(seq and recorded_at as big-endian 8-byte integers, recorded_at in microseconds since the Unix
epoch exactly as PostgreSQL stores it, role as a 2-byte length and its UTF-8 bytes), starting
from 32 zero bytes at `start`, the first seq it covers. At each checkpoint it signs the head
with the log key as a separate signed note (not a checkpoint extension line, so the C2SP
checkpoint that witnesses, pins and bundles carry keeps its three lines):

    <origin>/stamps
    <tree size>
    start <first stamped seq>
    <base64 head>

The third line is not a base64 root, so a stamp note can never parse as a checkpoint. Pure
functions: the sequencer and `ledger.verify_stamps` share them.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

__all__ = ["EMPTY_HEAD", "StampNote", "fold", "stamp_note_body"]

EMPTY_HEAD = bytes(32)
_DOMAIN = b"agent-ledger/stamp/v1\x00"
_NUMBERS = struct.Struct(">qqH")


def fold(head: bytes, leaf: bytes, seq: int, recorded_us: int, role: str) -> bytes:
    """The chain head after one event (one SHA-256 per event: cheap on the append path)."""
    name = role.encode("utf-8")
    return hashlib.sha256(
        _DOMAIN + head + leaf + _NUMBERS.pack(seq, recorded_us, len(name)) + name
    ).digest()


@dataclass(frozen=True, slots=True)
class StampNote:
    """The body of a signed stamp note."""

    origin: str
    size: int
    start: int
    head: bytes

    @classmethod
    def parse(cls, body: bytes) -> StampNote:
        """Parse a note body; ValueError names what is wrong."""
        lines = body.decode("utf-8").split("\n")
        if len(lines) != 5 or lines[4] != "" or not lines[0].endswith("/stamps"):
            raise ValueError("not a stamp note (origin/stamps, size, start, head)")
        if not lines[1].isdigit() or not lines[2].startswith("start "):
            raise ValueError("stamp note size or start line malformed")
        head = base64.b64decode(lines[3], validate=True)
        if len(head) != 32:
            raise ValueError("stamp note head is not 32 bytes")
        return cls(lines[0][: -len("/stamps")], int(lines[1]), int(lines[2][6:]), head)


def stamp_note_body(origin: str, size: int, start: int, head: bytes) -> bytes:
    """The canonical bytes the log key signs for a stamp head."""
    return f"{origin}/stamps\n{size}\nstart {start}\n{base64.b64encode(head).decode()}\n".encode()
