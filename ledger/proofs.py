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
from typing import Any

import psycopg

from ledger.db.sqlfiles import query
from ledger.errors import InputError, LedgerError
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.note import Checkpoint, NoteError, Verifier, open_note
from ledger.store.read import (
    checkpoint_at,
    cosigned_note,
    event_by_id,
    latest_checkpoint,
    receipt_states,
    run_events,
)
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
    "resolve_event",
    "run_doc",
    "tree_root",
    "witness_problem",
]

FORMAT = "agent-ledger/proof/v1"


class ProofUnavailable(LedgerError, LookupError):
    """The event, run or checkpoint a proof was asked for does not exist."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def checkpoint_row(
    conn: psycopg.Connection, origin: str, size: int | None = None
) -> tuple[int, bytes, str]:
    """(size, root, note) of the checkpoint at `size`, or the latest; the cosigned note if any."""
    found = checkpoint_at(conn, origin, size) if size else latest_checkpoint(conn, origin)
    if found is None:
        what = f"size {size}" if size else "any size"
        raise ProofUnavailable(f"{origin}: no signed checkpoint at {what}")
    cosigned = cosigned_note(conn, origin, found.tree_size)
    return found.tree_size, found.root_hash, cosigned or found.note


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


def resolve_event(conn: psycopg.Connection, target: str, origin: str | None) -> uuid.UUID:
    """The one sequenced event `target` names: an event id, a seq, or a tool_call_id.

    Why all three: `ledger check` cites tool calls by tool_call_id and logs count by seq; an
    auditor should prove what a report names without looking up an event id first. A
    tool_call_id names the call's intent (`tool.call.started`), the event rules cite. `origin`
    (from --tenant) narrows every form to one log; without it a seq is looked up in every log.
    Nothing found: ProofUnavailable. More than one event (a seq in several logs, a retried or
    reused tool_call_id, a seq that is also a tool_call_id): an InputError naming them.
    """
    found: dict[uuid.UUID, str] = {}
    try:
        as_id: uuid.UUID | None = uuid.UUID(target)
    except ValueError:
        as_id = None
    if as_id is not None and (stored := event_by_id(conn, as_id)) is not None:
        if origin is None or stored.origin == origin:
            found[as_id] = "event id"
    if target.isdigit() and len(target) < 19:
        rows = (conn.execute(query("prove_seq_in_origin"), (origin, int(target))).fetchall()
                if origin is not None
                else conn.execute(query("prove_seq_in_any_origin"), (int(target),)).fetchall())
        for log, event_id in rows:
            found.setdefault(event_id, f"seq {target} of {log}")
    calls = conn.execute(query("prove_tool_call_started"), (target, origin, origin)).fetchall()
    for log, event_id in calls:
        found.setdefault(event_id, f"tool_call_id in {log}")
    if not found:
        raise ProofUnavailable(f"no sequenced event with event id, seq or tool_call_id {target!r}")
    if len(found) > 1:
        named = "; ".join(f"{how}: {event_id}" for event_id, how in list(found.items())[:3])
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        narrow = "" if origin is not None else " or narrow it with --tenant"
        raise InputError(f"{target!r} names {len(found)} events ({named}{more}): "
                         f"prove one by its event id{narrow}")
    return next(iter(found))


def inclusion_doc(
    conn: psycopg.Connection, event_id: uuid.UUID, size: int | None = None
) -> dict[str, Any]:
    """Inclusion proof of one event against the latest (or the given) signed checkpoint."""
    stored = event_by_id(conn, event_id)
    if stored is None:
        raise ProofUnavailable(f"no sequenced event {event_id}")
    origin, seq, body, leaf = stored.origin, stored.seq, stored.body, stored.leaf_hash
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
    rows = run_events(conn, run_id)
    if not rows:
        raise ProofUnavailable(f"no sequenced events for run {run_id}")
    origin = rows[0].origin
    size, root, note = _covering(conn, origin, max(r.seq for r in rows), None)
    reader = TileReader(conn, origin)
    all_ranges = [inclusion_ranges(r.seq, size) for r in rows]
    reader.load([rng for ranges in all_ranges for rng in ranges])
    events: list[dict[str, Any]] = []
    for row, ranges in zip(rows, all_ranges, strict=True):
        proof = [reader.range_hash(lo, hi) for lo, hi in ranges]
        verify_inclusion(row.leaf_hash, row.seq, size, proof, root)
        events.append({"seq": row.seq, "body": _b64(row.body), "proof": [p.hex() for p in proof]})
    return {
        "format": FORMAT,
        "kind": "run",
        "origin": origin,
        "run_id": str(run_id),
        "tree_size": size,
        "events": events,
        "checkpoint": note,
    }


def check_receipts(conn: psycopg.Connection, receipts: Any) -> list[tuple[uuid.UUID, str]]:
    """Receipts (event_id, leaf_hash) a writer holds whose event is neither logged nor pending.

    Returns (event_id, reason) per problem: "acknowledged event missing" or "leaf differs".
    """
    wanted = {r.event_id: r.leaf_hash for r in receipts}
    states = receipt_states(conn, list(wanted))
    problems: list[tuple[uuid.UUID, str]] = []
    for event_id, leaf in wanted.items():
        state = states.get(event_id)
        if state is None:
            problems.append((event_id, "acknowledged event missing"))
            continue
        stored = state.logged_leaf
        if stored is None and state.pending_body is not None:
            stored = leaf_hash(state.pending_body)
        if stored != leaf:
            problems.append((event_id, "leaf differs from the receipt"))
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
    cosigned = cosigned_note(conn, origin, size)
    if cosigned is None:
        return f"latest checkpoint (size {size}) has no witness cosignature"
    note = cosigned.encode("utf-8")
    try:
        cp = Checkpoint.parse(open_note(note, verifiers).body)
        if cp.origin != origin or cp.size != size:
            return f"cosigned note for size {size} is for another checkpoint"
        for witness in witnesses:
            witness.timestamp(note)
    except NoteError as exc:
        return f"witness cosignature on size {size}: {exc}"
    return None
