"""Verify a log from a size on: what `ledger verify` checks, for the events after `start` only.

Why: a transparency log only needs to check what is new since a checkpoint it already
verified. The prefix [0, start) is summarised by its compact range, taken from the stored tiles
(ledger.tiles) and checked against the verified root; every leaf from `start` is recomputed,
every column checked, every run chain continued from each run's last leaf before `start` (one
index probe per run), the root at every checkpoint > start checked, with the checkpoints'
signatures, key events, stamps and payloads of the range. Nothing here reads the whole origin.

The checks are those of full verify, not copies: the same bulk and row passes
(ledger.verify_bulk / ledger.verify_rows, given a `Resume`), checkpoint authentication, stamp
chain and payload scanner, each started at `start`. So a tamper inside the range is named with
the first bad seq and reason full verify gives. Full verify is the case start = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.merkle import CompactRange
from ledger.note import Verifier
from ledger.store.scan import run_heads_before
from ledger.tiles import TileReader, range_nodes
from ledger.verify_bulk import Resume, Suspect, bulk_scan
from ledger.verify_common import checked_checkpoints, key_ring, payload_scanner
from ledger.verify_report import VerifyReport
from ledger.verify_rows import Invalid, row_scan
from ledger.verify_stamps import check_stamps

__all__ = ["TILES_MISMATCH", "checked_frontier", "frontier_at", "verify_from"]

TILES_MISMATCH = "tiles_mismatch"


def frontier_at(conn: psycopg.Connection, origin: str, size: int) -> CompactRange:
    """The compact range of the first `size` leaves, from the stored tiles (one query).

    The perfect subtrees covering [0, size), largest first, are exactly the frontier's hashes.
    Raises Invalid(`tiles_mismatch`) when a tile is missing or short."""
    reader = TileReader(conn, origin)
    try:
        reader.load([(0, size)])
        hashes = [reader.node(node) for node in range_nodes(0, size)]
    except LookupError as exc:
        raise Invalid(size, f"{TILES_MISMATCH}: {exc}", TILES_MISMATCH) from None
    return CompactRange.from_bytes(b"\x01" + size.to_bytes(8, "big") + b"".join(hashes))


def checked_frontier(
    conn: psycopg.Connection, origin: str, size: int, want_root: bytes | None
) -> CompactRange:
    """`frontier_at`, and Invalid(`tiles_mismatch`) when it does not hash to `want_root`."""
    tree = frontier_at(conn, origin, size)
    if want_root is not None and tree.root() != want_root:
        raise Invalid(
            size,
            f"{TILES_MISMATCH}: the stored tiles at size {size} hash to {tree.root().hex()}, "
            f"not the verified root {want_root.hex()} (tiles or history rewritten)",
            TILES_MISMATCH,
        )
    return tree


def _resume(
    conn: psycopg.Connection, origin: str, start: int, want_root: bytes | None
) -> Resume | None:
    """Where the scans start: the tiles' frontier at `start` (checked against `want_root`) and
    the last leaf before `start` of every run the range continues."""
    if start == 0:
        return None
    tree = checked_frontier(conn, origin, start, want_root)
    heads = {
        str(run_id): (run_seq, leaf.hex())
        for run_id, run_seq, leaf in run_heads_before(conn, origin, start)
    }
    return Resume(tree, heads)


def _scan(  # noqa: PLR0917 - the state of one origin's verification
    conn: psycopg.Connection,
    origin: str,
    start: int,
    want: dict[int, bytes],
    resume: Resume | None,
    report: VerifyReport,
    fresh_scanner: Any,
) -> tuple[int, Any]:
    """The bulk pass, and the row pass to name the failure when the bulk pass doubts."""
    private = fresh_scanner()
    try:
        size = bulk_scan(conn, origin, want, private.scan if private is not None else None, resume)
        report.events_verified += size - start
    except Suspect:
        private = fresh_scanner()
        size = row_scan(conn, origin, want, None, private, report, resume)
    return size, private


def _tail(origin: str, start: int, size: int, newest: int | None) -> None:
    """Every event is covered by a signed checkpoint and every checkpoint by events."""
    if newest is None:
        raise Invalid(
            start,
            f"truncated: {origin} has no checkpoint of at least {start} leaves "
            "(checkpoints removed)",
            "truncated",
        )
    if newest > size:
        raise Invalid(
            size,
            f"checkpoint at size {newest} but the log has only {size} events: tail removed",
            "tail_removed",
        )
    if size > newest:
        raise Invalid(
            newest,
            f"unpublished tail: seq {newest}..{size - 1} not covered by a signed checkpoint",
            "unpublished_tail",
        )


def verify_from(
    conn: psycopg.Connection,
    origin: str,
    start: int,
    start_root: bytes | None,
    targets: dict[int, bytes],
    *,
    settings: Settings,
    verifiers: Sequence[Verifier],
    report: VerifyReport,
) -> int:
    """Check the log of `origin` from seq `start` on and return its size; raise Invalid.

    `start_root`, when given, is the verified root at `start` the tiles must hash to; `targets`
    are more roots the tree must have (a pin), on top of the stored checkpoints > `start`.
    Run inside one snapshot (the caller's transaction), as full verify does."""
    checkpoints = checked_checkpoints(conn, origin, verifiers, start)
    report.checkpoints_verified += sum(1 for size, _root in checkpoints if size > start)
    want = dict(checkpoints)
    for size, root in targets.items():
        want.setdefault(size, root)
    resume = _resume(conn, origin, start, start_root if start_root is not None else want.get(start))

    def fresh_scanner() -> Any:
        private = payload_scanner(conn, origin, verifiers, settings)
        if private is not None:
            private.start = start
        return private

    size, private = _scan(conn, origin, start, want, resume, report, fresh_scanner)
    report.origins[origin] = size
    report.tree_size += size
    newest = checkpoints[-1][0] if checkpoints else (None if start else 0)
    _tail(origin, start, size, newest)
    ring = key_ring(conn, origin, verifiers).verifiers()
    unstamped = check_stamps(conn, origin, ring, size, start)
    if unstamped:
        report.unstamped[origin] = unstamped
    if private is not None:
        problem = private.finish(report)
        if problem is not None:
            raise Invalid(problem[0], problem[1], problem[2])
    return size
