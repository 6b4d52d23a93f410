"""Build inclusion, consistency and run-completeness proofs from the database (`ledger prove`).

Why: an auditor should not have to trust the database to believe one event is in the log, that
a newer log extends an older one, or that a run is complete. These functions produce
self-contained JSON documents (format `agent-ledger/proof/v1`) bound to one signed checkpoint;
`ledger.proofcheck` verifies them offline with RFC 6962 algorithms and no database.

Subtree hashes come from the stored tiles (`ledger.tiles`), so a proof reads a handful of rows
whatever the log size. Every proof names the checkpoint size it was built against.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import Any, LiteralString

import psycopg

from ledger.errors import LedgerError
from ledger.merkle import verify_consistency, verify_inclusion
from ledger.note import Checkpoint, NoteError, Verifier, open_note
from ledger.tiles import TileReader, consistency_ranges, inclusion_ranges
from ledger.witness import CosignatureVerifier

__all__ = [
    "FORMAT",
    "ProofUnavailable",
    "check_receipts",
    "checkpoint_row",
    "consistency_doc",
    "inclusion_doc",
    "inclusion_for_seq",
    "run_doc",
    "tree_root",
    "witness_problem",
]

FORMAT = "agent-ledger/proof/v1"

_CP_LATEST: LiteralString = (
    "SELECT tree_size, root_hash, note FROM ledger_checkpoints WHERE origin = %s "
    "ORDER BY tree_size DESC LIMIT 1"
)
_CP_AT: LiteralString = (
    "SELECT tree_size, root_hash, note FROM ledger_checkpoints WHERE origin = %s AND tree_size = %s"
)
_COSIGNED_AT: LiteralString = (
    "SELECT note FROM ledger_cosigned WHERE origin = %s AND tree_size = %s"
)
_EVENT: LiteralString = "SELECT origin, seq, body, leaf_hash FROM ledger_events WHERE event_id = %s"
_RUN: LiteralString = (
    "SELECT origin, seq, body, leaf_hash FROM ledger_events WHERE run_id = %s ORDER BY run_seq"
)


class ProofUnavailable(LedgerError, LookupError):
    """The event, run or checkpoint a proof was asked for does not exist."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def checkpoint_row(
    conn: psycopg.Connection, origin: str, size: int | None = None
) -> tuple[int, bytes, str]:
    """(size, root, note) of the checkpoint at `size`, or the latest; the cosigned note if any."""
    row = conn.execute(
        _CP_AT if size else _CP_LATEST, (origin, size) if size else (origin,)
    ).fetchone()
    if row is None:
        what = f"size {size}" if size else "any size"
        raise ProofUnavailable(f"{origin}: no signed checkpoint at {what}")
    tree_size, root, note = int(row[0]), bytes(row[1]), str(row[2])
    cosigned = conn.execute(_COSIGNED_AT, (origin, tree_size)).fetchone()
    return tree_size, root, str(cosigned[0]) if cosigned else note


def tree_root(conn: psycopg.Connection, origin: str, size: int) -> bytes:
    """Root of the first `size` leaves of `origin`, computed from tiles."""
    return TileReader(conn, origin).hashes([(0, size)])[0]


def inclusion_for_seq(  # noqa: PLR0917 - positional helper with a fixed, documented order
    conn: psycopg.Connection, origin: str, seq: int, size: int, root: bytes, leaf: bytes
) -> list[bytes]:
    """Inclusion path for leaf `seq` in the tree of `size`, self-checked against `root`."""
    proof = TileReader(conn, origin).hashes(inclusion_ranges(seq, size))
    verify_inclusion(leaf, seq, size, proof, root)
    return proof


def _covering(
    conn: psycopg.Connection, origin: str, seq: int, size: int | None
) -> tuple[int, bytes, str]:
    if size is None:
        size, root, note = checkpoint_row(conn, origin)
    else:
        size, root, note = checkpoint_row(conn, origin, size)
    if seq >= size:
        raise ProofUnavailable(f"seq {seq} is not covered by the checkpoint of size {size} yet")
    return size, root, note


def inclusion_doc(
    conn: psycopg.Connection, event_id: uuid.UUID, size: int | None = None
) -> dict[str, Any]:
    """Inclusion proof of one event against the latest (or the given) signed checkpoint."""
    row = conn.execute(_EVENT, (event_id,)).fetchone()
    if row is None:
        raise ProofUnavailable(f"no sequenced event {event_id}")
    origin, seq, body, leaf = str(row[0]), int(row[1]), bytes(row[2]), bytes(row[3])
    tree_size, root, note = _covering(conn, origin, seq, size)
    proof = inclusion_for_seq(conn, origin, seq, tree_size, root, leaf)
    return {
        "format": FORMAT,
        "kind": "inclusion",
        "origin": origin,
        "event_id": str(event_id),
        "seq": seq,
        "tree_size": tree_size,
        "leaf_hash": leaf.hex(),
        "body": _b64(body),
        "proof": [p.hex() for p in proof],
        "checkpoint": note,
    }


def consistency_doc(
    conn: psycopg.Connection, origin: str, old_size: int, new_size: int | None = None
) -> dict[str, Any]:
    """Consistency proof from `old_size` to the checkpoint at `new_size` (default latest)."""
    size, new_root, note = checkpoint_row(conn, origin, new_size)
    if not 0 < old_size <= size:
        raise ProofUnavailable(f"old size {old_size} must be in 1..{size}")
    reader = TileReader(conn, origin)
    ranges = consistency_ranges(old_size, size)
    reader.load([*ranges, (0, old_size)])
    proof = [reader.range_hash(lo, hi) for lo, hi in ranges]
    old_root = reader.range_hash(0, old_size)
    verify_consistency(old_size, size, old_root, new_root, proof)
    old_note: str | None = None
    try:
        old_note = checkpoint_row(conn, origin, old_size)[2]
    except ProofUnavailable:
        old_note = None
    return {
        "format": FORMAT,
        "kind": "consistency",
        "origin": origin,
        "old_size": old_size,
        "new_size": size,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [p.hex() for p in proof],
        "old_checkpoint": old_note,
        "checkpoint": note,
    }


def run_doc(conn: psycopg.Connection, run_id: uuid.UUID) -> dict[str, Any]:
    """Every event of a run with its inclusion proof against one checkpoint (run completeness)."""
    rows = conn.execute(_RUN, (run_id,)).fetchall()
    if not rows:
        raise ProofUnavailable(f"no sequenced events for run {run_id}")
    origin = str(rows[0][0])
    last_seq = max(int(r[1]) for r in rows)
    size, root, note = _covering(conn, origin, last_seq, None)
    reader = TileReader(conn, origin)
    all_ranges = [inclusion_ranges(int(r[1]), size) for r in rows]
    reader.load([rng for ranges in all_ranges for rng in ranges])
    events: list[dict[str, Any]] = []
    for (_o, seq, body, leaf), ranges in zip(rows, all_ranges, strict=True):
        proof = [reader.range_hash(lo, hi) for lo, hi in ranges]
        verify_inclusion(bytes(leaf), int(seq), size, proof, root)
        events.append(
            {"seq": int(seq), "body": _b64(bytes(body)), "proof": [p.hex() for p in proof]}
        )
    return {
        "format": FORMAT,
        "kind": "run",
        "origin": origin,
        "run_id": str(run_id),
        "tree_size": size,
        "events": events,
        "checkpoint": note,
    }


_RECEIPT_STATE: LiteralString = (
    "SELECT e.event_id, e.leaf_hash, i.body FROM unnest(%s::uuid[]) AS r(id) "
    "LEFT JOIN ledger_events e ON e.event_id = r.id LEFT JOIN ledger_intake i ON i.event_id = r.id "
    "ORDER BY r.id"
)


def check_receipts(conn: psycopg.Connection, receipts: Any) -> list[tuple[uuid.UUID, str]]:
    """Receipts (event_id, leaf_hash) a writer holds whose event is neither logged nor pending.

    Returns (event_id, reason) per problem: "acknowledged event missing" or "leaf differs".
    """
    wanted = {r.event_id: r.leaf_hash for r in receipts}
    problems: list[tuple[uuid.UUID, str]] = []
    rows = conn.execute(_RECEIPT_STATE, (list(wanted),)).fetchall()
    by_id = {row[0]: row for row in rows if row[0] is not None}
    pending_rows = conn.execute(
        "SELECT event_id, body FROM ledger_intake WHERE event_id = ANY(%s)", (list(wanted),)
    ).fetchall()
    pending = {row[0]: bytes(row[1]) for row in pending_rows}
    from ledger.merkle import leaf_hash

    for event_id, leaf in wanted.items():
        if event_id in by_id:
            if bytes(by_id[event_id][1]) != leaf:
                problems.append((event_id, "leaf differs from the receipt"))
        elif event_id in pending:
            if leaf_hash(pending[event_id]) != leaf:
                problems.append((event_id, "leaf differs from the receipt"))
        else:
            problems.append((event_id, "acknowledged event missing"))
    return problems


def witness_problem(
    conn: psycopg.Connection,
    origin: str,
    size: int,
    verifiers: Sequence[Verifier],
    witnesses: Sequence[CosignatureVerifier],
) -> str | None:
    """Why the checkpoint of `size` lacks a valid cosignature by every witness (None if fine)."""
    if size == 0:
        return None
    row = conn.execute(_COSIGNED_AT, (origin, size)).fetchone()
    if row is None:
        return f"latest checkpoint (size {size}) has no witness cosignature"
    note = str(row[0]).encode("utf-8")
    try:
        cp = Checkpoint.parse(open_note(note, verifiers).body)
        if cp.origin != origin or cp.size != size:
            return f"cosigned note for size {size} is for another checkpoint"
        for witness in witnesses:
            witness.timestamp(note)
    except NoteError as exc:
        return f"witness cosignature on size {size}: {exc}"
    return None
