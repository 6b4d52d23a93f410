"""Rows for `COPY ledger_events ... (FORMAT BINARY)`, built by the sequencer.

Why binary: in text format PostgreSQL spent more time parsing each row (the body as 1.7 kB of
hex, the timestamp as text) than storing it, and that COPY is most of the sequencer's one-at-a-
time path. In binary the body and leaf go as raw bytes and `occurred_at` as the microseconds
PostgreSQL would have parsed from the body's text (`ledger.pgtime`, the rounding the verifier
checks).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ledger.pgtime import micros_of

__all__ = ["CopyRow", "binary_copy"]

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # flags, header extension
_TRAILER = struct.pack(">h", -1)
_POSTGRES_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z, PostgreSQL's zero
_IDS = struct.Struct(">iqi16si16siq")  # seq, event_id, run_id, run_seq with their lengths
_TIME_BODY = struct.Struct(">iqi")  # occurred_at, then the body's length
_LEAF = struct.Struct(">i32s")
_TIME = struct.Struct(">iq")
_TEXT = struct.Struct(">i")
_FIELDS = struct.pack(">h", 11)  # columns per row

CopyRow = tuple[str, int, str, str, int, str, str, bytes, bytes, int, str]
"""origin, seq, event_id, run_id, run_seq, type, occurred_at (RFC 3339), body, leaf hash,
recorded_at (microseconds since the Unix epoch), submitted_by (a role name)."""


def binary_copy(rows: Sequence[CopyRow]) -> bytes:
    """The whole COPY stream (signature, rows, trailer) for `copy_events_binary`.

    The ids must be lower-case hyphenated UUIDs and origin/type plain text: the sequencer has
    validated every body before it gets here.
    """
    micros = micros_of([row[6] for row in rows])
    ids, time_body, leaf_field = _IDS.pack, _TIME_BODY.pack, _LEAF.pack
    heads: dict[str, bytes] = {}  # few origins and types: each encoded once
    kinds: dict[str, bytes] = {}
    parts = [_SIGNATURE]
    add = parts.extend
    time_field = _TIME.pack
    roles: dict[str, bytes] = {}
    for (origin, seq, event_id, run_id, run_seq, type_, _, body, leaf, rec_us, role), us in zip(
        rows, micros, strict=True
    ):
        head = heads.get(origin)
        if head is None:
            head = heads[origin] = _FIELDS + _text(origin)
        stamp = roles.get(role)
        if stamp is None:
            stamp = roles[role] = _text(role)
        kind = kinds.get(type_)
        if kind is None:
            kind = kinds[type_] = _text(type_)
        add(
            (
                head,
                ids(
                    8,
                    seq,
                    16,
                    bytes.fromhex(event_id.replace("-", "")),
                    16,
                    bytes.fromhex(run_id.replace("-", "")),
                    8,
                    run_seq,
                ),
                kind,
                time_body(8, us - _POSTGRES_EPOCH_US, len(body)),
                body,
                leaf_field(32, leaf),
                time_field(8, rec_us - _POSTGRES_EPOCH_US),
                stamp,
            )
        )
    parts.append(_TRAILER)
    return b"".join(parts)


def _text(value: str) -> bytes:
    encoded = value.encode()
    return _TEXT.pack(len(encoded)) + encoded
