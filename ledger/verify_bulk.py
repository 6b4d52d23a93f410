"""The bulk pass of `ledger verify`: every check of the row pass, a batch of rows at a time.

Why a second pass: in the row pass most of the time went to decoding one COPY row at a time and
parsing every JSON body in full. Here PostgreSQL returns each seq range as a handful of values
(the bodies concatenated as one JSON array, their lengths, the leaf hashes, and the projection
columns as one text), so the client splits, hashes, decodes and compares a whole batch with a
few C calls, while a reader thread fetches the next batch.

The bulk pass never explains a failure. On anything unexpected it raises `Suspect` and the
caller re-runs the origin with the row pass, which names the first bad `seq` and the reason. It
must therefore check at least everything the row pass checks (the tamper tests run through it
first); being stricter only costs a second pass, never a verdict.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import msgspec
import orjson
import psycopg

from ledger.errors import LedgerError
from ledger.eventhead import EventHead, decode_heads
from ledger.merkle import CompactRange, leaf_hashes
from ledger.pgtime import micros_of
from ledger.readahead import read_ahead
from ledger.store.scan import rows_outside, verify_batch

__all__ = ["BATCH_ROWS", "Resume", "Suspect", "bulk_scan"]

BATCH_ROWS = 8192
"""Rows per round trip: large enough to amortise the query, small enough to stay in cache."""


@dataclass(frozen=True)
class Resume:
    """Where a scan starts when not at seq 0: the tree of the first `tree.size` leaves, and the
    last (run_seq, leaf hash hex) before that size of every run continued after it."""

    tree: CompactRange
    heads: dict[str, tuple[int, str]]


class Suspect(LedgerError):
    """Something in the batch is not as the row pass would accept it; re-run with the row pass."""


def _batches(conn: psycopg.Connection, origin: str, start: int) -> Iterator[tuple[Any, ...]]:
    cursor = conn.cursor(binary=True)
    while True:
        row = verify_batch(cursor, origin, start, start + BATCH_ROWS)
        if row is None or not row[0]:
            return
        yield (start, *row)
        start += int(row[0])


class _Scan:
    """What the bulk pass carries from one batch to the next."""

    def __init__(
        self,
        origin: str,
        targets: dict[int, bytes],
        scan_private: Callable[[int, dict[str, Any]], None] | None,
        resume: Resume | None,
    ) -> None:
        self.tenant = origin.rsplit("/", 1)[-1]
        self.targets, self.sizes = targets, sorted(targets)
        self.scan_private = scan_private
        self.tree = CompactRange() if resume is None else resume.tree.copy()
        self.heads: dict[str, tuple[int, str]] = {} if resume is None else dict(resume.heads)
        self.size = self.tree.size

    def take(  # noqa: PLR0917 - the columns of the verify_batch query, in order
        self,
        start: int,
        count: int,
        seqs: str,
        lengths: str,
        blob: bytes,
        leaves: bytes,
        columns: str,
    ) -> None:
        """Check one batch (the columns of `verify_batch`); raise `Suspect` on any doubt."""
        if start != self.size or seqs != ",".join(map(str, range(start, start + count))):
            raise Suspect("seq")
        spans = list(map(int, lengths.split(",")))
        offsets = accumulate((n + 1 for n in spans), initial=1)
        bodies = [blob[at : at + n] for at, n in zip(offsets, spans, strict=False)]
        ours = leaf_hashes(bodies)
        if b"".join(ours) != leaves:
            raise Suspect("leaf")
        decoded = _decode(blob, count, columns)
        self._chains(decoded, ours)
        private = self.scan_private
        if private is not None and (b'"$commitment"' in blob or " redaction " in columns):
            for i, body in enumerate(bodies):
                if b'"$commitment"' in body or decoded[i].type == "redaction":
                    private(start + i, orjson.loads(body))
        self._extend(start, ours)

    def _chains(self, decoded: list[EventHead], ours: list[bytes]) -> None:
        """Every event of the batch is in this origin's tenant and continues its run's chain."""
        tenant, heads = self.tenant, self.heads
        for h, leaf in zip(decoded, ours, strict=True):
            if h.tenant != tenant:
                raise Suspect("tenant")
            head = heads.get(h.run_id)
            if head is None:
                if h.run_seq != 0 or h.prev_run_hash is not None:
                    raise Suspect("chain")
            elif h.run_seq != head[0] + 1 or h.prev_run_hash != head[1]:
                raise Suspect("chain")
            heads[h.run_id] = (h.run_seq, leaf.hex())

    def _extend(self, start: int, ours: list[bytes]) -> None:
        """Append the batch's leaves, checking the root at every target size inside it."""
        tree, sizes, targets = self.tree, self.sizes, self.targets
        end = start + len(ours)
        at = start
        first, last = bisect.bisect_right(sizes, start), bisect.bisect_right(sizes, end)
        for checkpoint in sizes[first:last]:
            tree.append_many(ours[at - start : checkpoint - start])
            at = checkpoint
            if tree.root() != targets[checkpoint]:
                raise Suspect("root")
        tree.append_many(ours[at - start :])
        self.size = end


def _decode(blob: bytes, count: int, columns: str) -> list[EventHead]:
    """The heads of the batch's bodies, checked against the projection columns."""
    try:
        decoded = decode_heads(blob)
    except msgspec.DecodeError:  # ValidationError is a DecodeError
        raise Suspect("body") from None
    if len(decoded) != count:
        raise Suspect("body")
    try:
        micros = micros_of([h.occurred_at for h in decoded])
    except ValueError:
        raise Suspect("occurred_at") from None
    mine = "\n".join(
        [
            f"{h.event_id} {h.run_id} {h.run_seq} {h.type} {us}"
            for h, us in zip(decoded, micros, strict=True)
        ]
    )
    if mine != columns or mine.count("\n") != count - 1:
        raise Suspect("columns")
    return decoded


def bulk_scan(
    conn: psycopg.Connection,
    origin: str,
    targets: dict[int, bytes],
    scan_private: Callable[[int, dict[str, Any]], None] | None,
    resume: Resume | None = None,
) -> int:
    """Check every event of `origin` batch by batch; return the log size or raise `Suspect`.

    `targets` maps tree sizes to the roots the tree must have there (checkpoints and the pin);
    `scan_private` receives the parsed body of every event carrying commitments or redactions;
    `resume` starts at its tree's size instead of 0 (ledger.verify_from).
    """
    scan = _Scan(origin, targets, scan_private, resume)
    reader = read_ahead(_batches(conn, origin, scan.size))
    with closing(reader) as batches:  # joins the reader on any exit
        for batch in batches:
            scan.take(*batch)
    if rows_outside(conn, origin, scan.size):
        raise Suspect("rows outside 0..size")
    return scan.size
