"""Bulk loader for millions of events: COPY straight into the log tables, valid in every respect.

Why not the writers: 10M events through intake and the sequencer would take hours and measure
the sequencer, not what the scale benchmark is about (verify, export, memory). What this writes
is what the sequencer would have written, so `ledger verify` accepts it: canonical bodies with
chained runs (`prev_run_hash` = the previous leaf), leaf hashes, contiguous seqs per origin, the
tiles (computed once in Python, `ledger.tiles.extend_tiles`), a signed checkpoint every `every`
events with its signed stamp note (the stamp chain over leaf, seq, recorded_at, submitted_by).

Fast: one template run of pre-encoded events (bench.common.synthetic_runs) is re-stamped per run
by replacing its ids and previous-leaf hash in the canonical bytes (same lengths, still
canonical), and each checkpoint's rows go in one binary COPY (`ledger.store.copyrows`). Loading
continues an existing log (its latest checkpoint's frontier and stamp head), so a benchmark can
measure at N events and again at 2N.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import psycopg

from bench.common import synthetic_runs
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.merkle import CompactRange
from ledger.note import Checkpoint, Signer
from ledger.stamps import EMPTY_HEAD, fold, stamp_note_body
from ledger.store.batch import Accepted
from ledger.store.copyrows import binary_copy
from ledger.store.logkey import log_signer, sign_checkpoint
from ledger.store.partitions import ensure_batch, guard_keys
from ledger.tiles import extend_tiles

__all__ = ["PER_RUN", "BulkLoader", "Loaded"]

PER_RUN = 50
ROLE = "ledger_bench_loader"
RECORDED_US = 1_780_000_000_000_000  # recorded_at of the first checkpoint batch (µs since 1970)


@dataclass(frozen=True)
class Loaded:
    """One origin after a load: its size and every checkpoint size written this time."""

    origin: str
    size: int
    checkpoints: tuple[int, ...]


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


class _Template:
    """One run of canonical bodies whose ids and previous-leaf hashes get swapped per run."""

    def __init__(self, tenant: str) -> None:
        self.events = synthetic_runs(PER_RUN, PER_RUN, tenant)[0]
        first = orjson.loads(self.events[0].body)
        self.run_id = first["run_id"].encode()
        self.parsed = [orjson.loads(e.body) for e in self.events]
        self.prevs = [(p.get("prev_run_hash") or "").encode() for p in self.parsed]

    def run(self, origin: str, seq: int, count: int, recorded: list[int]) -> Iterator[Accepted]:
        """`count` events of a new run (count <= PER_RUN) at `seq`, chained; `recorded[0]` is
        read at each event (the batch it lands in sets it)."""
        run_hex, ids_hex = uuid.uuid4().hex, uuid.uuid4().hex[:28]
        run_id = _uuid(run_hex)
        prev = b""
        for i in range(count):
            parsed, event = self.parsed[i], self.events[i]
            event_id = _uuid(f"{ids_hex}{i:04x}")
            body = event.body.replace(self.run_id, run_id.encode()).replace(
                str(event.event_id).encode(), event_id.encode()
            )
            if i:
                body = body.replace(self.prevs[i], prev)
            leaf = hashlib.sha256(b"\x00" + body).digest()
            prev = leaf.hex().encode()
            yield Accepted(
                origin, seq + i, event_id, run_id, i, parsed["type"], parsed["occurred_at"],
                body, leaf, recorded[0], ROLE,
            )


class BulkLoader:
    """Appends synthetic runs to tenants' logs with a signed checkpoint every `every` events."""

    def __init__(self, conn: psycopg.Connection, settings: Settings) -> None:
        self.conn, self.settings = conn, settings
        self.signer: Signer = log_signer(settings, conn)
        self.batches = 0
        self.recorded = [RECORDED_US]

    def load(self, tenant: str, count: int, *, every: int, extra: tuple[int, ...] = ()) -> Loaded:
        """Append `count` events to `tenant`'s log; checkpoints at every multiple of `every`, at
        each size in `extra` and at the end."""
        origin = self.settings.origin(tenant)
        tree, start, head = self._state(origin)
        end = tree.size + count
        cuts = sorted({*range(tree.size - tree.size % every + every, end, every), *extra, end})
        template = _Template(tenant)
        rows = self._rows(template, origin, tree.size, end)
        written: list[int] = []
        for cut in (c for c in cuts if tree.size < c <= end):
            self.recorded[0] = RECORDED_US + self.batches * 1000
            batch = [next(rows) for _ in range(cut - tree.size)]
            head = self._write(origin, tree, batch, start, head)
            written.append(cut)
        return Loaded(origin, tree.size, tuple(written))

    def _state(self, origin: str) -> tuple[CompactRange, int, bytes]:
        """The frontier, stamp start and stamp head of the origin's latest checkpoint."""
        latest = self.conn.execute(query("latest_checkpoint"), (origin,)).fetchone()
        if latest is None:
            return CompactRange(), 0, EMPTY_HEAD
        stamp = self.conn.execute(query("stamp_state"), (origin,)).fetchone()
        assert stamp is not None and stamp[0] is not None, "a log without stamps"
        return CompactRange.from_bytes(bytes(latest[3])), int(stamp[0]), bytes(stamp[1])

    def _rows(self, template: _Template, origin: str, seq: int, end: int) -> Iterator[Accepted]:
        """Rows from `seq` to `end`, run after run (recorded_at: the batch's, set by `load`)."""
        while seq < end:
            count = min(PER_RUN, end - seq)
            yield from template.run(origin, seq, count, self.recorded)
            seq += count

    def _write(
        self, origin: str, tree: CompactRange, batch: list[Accepted], start: int, head: bytes
    ) -> bytes:
        """One checkpoint's worth: COPY the rows, extend tiles and tree, sign, store."""
        conn, old = self.conn, tree.size
        leaves = [row.leaf for row in batch]
        with conn.transaction():
            ensure_batch(conn, batch)  # as the sequencer: every row in its seq range partition
            with conn.cursor().copy(query("copy_events")) as copy:
                copy.write(binary_copy(batch))
            guard_keys(conn, batch)  # and in the guard table (event_id, run_id/run_seq unique)
            extend_tiles(conn, origin, old, leaves)
            tree.append_many(leaves)
            for row in batch:
                head = fold(head, row.leaf, row.seq, row.recorded_us, row.submitted_by)
            root = tree.root()
            note = sign_checkpoint(self.signer, origin, Checkpoint(origin, tree.size, root).body())
            stamp = self.signer.sign_note(stamp_note_body(origin, tree.size, start, head))
            conn.execute(
                query("insert_checkpoint"),
                (origin, tree.size, root, note.decode(), tree.to_bytes(), start, head,
                 stamp.decode()),
            )
        self.batches += 1
        return head
