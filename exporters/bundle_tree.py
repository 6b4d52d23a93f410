"""Tree evidence of a bundle: leaves [0, end), both checkpoints, and the consistency proof.

Why separate: it is the part that proves the population sits in the signed log. Leaves are
streamed in seq order into `ledger/leaves.parquet` and into a `StreamingTree`, so the roots at
both sizes and the RFC 6962 consistency proof come out of one pass in flat memory; both
checkpoints are re-verified against the recomputed roots before they are shipped. Leaves of the
seq windows the events pass reads arrive with it (one pass over the table, not two: issue 7);
the prefix before and the suffix after the period are read here.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

from exporters.bundle_seal import HashingSink, file_entry
from exporters.rows import LEAF_SCHEMA
from exporters.treeproof import StreamingTree
from ledger.errors import VerificationFailed
from ledger.note import Checkpoint, Verifier, open_note
from ledger.store.export import leaf_window

__all__ = ["TreeWriter"]

_STEP = 100_000


class TreeWriter:
    """Leaves [0, end) fed in seq order (from the events pass or read here) into
    `ledger/leaves.parquet` and a `StreamingTree`; `finish` checks roots and writes the rest."""

    def __init__(self, out: Path, start_size: int, end_size: int) -> None:
        self.out = out
        self.start_size, self.end_size = start_size, end_size
        self.tree = StreamingTree(start_size, end_size)
        self.sink = HashingSink(out / "ledger/leaves.parquet")
        self.writer = pq.ParquetWriter(self.sink, LEAF_SCHEMA, compression="none")

    def add(self, window: tuple[int, int], seqs: list[int], leaves: list[bytes]) -> None:
        """The leaves of every seq in [lo, hi) (seqs sorted); a missing seq is a ledger hole."""
        lo, hi = window
        if lo >= hi:
            return
        if len(seqs) != hi - lo or seqs[0] != lo or lo != self.tree.tree.size:
            raise VerificationFailed(
                f"ledger has a hole in seq {lo}..{hi - 1}; run `ledger verify`"
            )
        self.tree.feed(leaves)
        columns = {
            "seq": pa.array(range(lo, hi), pa.int64()),
            "leaf_hash": pa.array(leaves, pa.binary(32)),
        }
        self.writer.write_table(pa.table(columns, schema=LEAF_SCHEMA))

    def read(self, conn: psycopg.Connection, origin: str, lo: int, hi: int) -> None:
        """Read and add the leaves of [lo, hi) from the database, in windows."""
        cur = conn.cursor(binary=True)
        for start in range(lo, hi, _STEP):
            stop = min(hi, start + _STEP)
            rows = leaf_window(cur, origin, start, stop)
            if any(int(a[0]) >= int(b[0]) for a, b in itertools.pairwise(rows)):
                rows.sort(key=lambda r: int(r[0]))
            self.add((start, stop), [int(r[0]) for r in rows], [bytes(r[1]) for r in rows])

    def finish(
        self,
        *,
        origin: str,
        start_note: str | None,
        end: tuple[bytes, str],
        verifiers: list[Verifier],
    ) -> tuple[list[dict[str, Any]], bytes]:
        """Checkpoints and proof; return their manifest entries (with leaves) and the start root."""
        self.writer.close()
        self.sink.close()
        out, tree = self.out, self.tree
        start_size, end_size = self.start_size, self.end_size
        end_root, end_note = end
        if tree.tree.size != end_size:
            raise VerificationFailed(
                f"ledger has a hole in seq {tree.tree.size}..{end_size - 1}; run `ledger verify`"
            )
        files = [
            file_entry(
                out,
                "ledger/leaves.parquet",
                "application/vnd.apache.parquet",
                end_size,
                known=self.sink.digest(),
            )
        ]
        start_root = tree.mid_root
        if tree.tree.root() != end_root or start_root is None:
            raise VerificationFailed(
                "stored leaves do not match the latest checkpoint; run `ledger verify`"
            )
        for name, note, size, root in (
            ("end", end_note, end_size, end_root),
            ("start", start_note, start_size, start_root),
        ):
            if note is None:
                continue
            cp = Checkpoint.parse(open_note(note.encode(), verifiers).body)
            if (cp.origin, cp.size, cp.root) != (origin, size, root):
                raise VerificationFailed(f"{name} checkpoint does not match the recomputed tree")
            (out / f"checkpoints/{name}.note").write_text(note, encoding="utf-8")
            files.append(file_entry(out, f"checkpoints/{name}.note", "text/plain"))
        doc = {
            "old_size": start_size,
            "new_size": end_size,
            "old_root": start_root.hex(),
            "new_root": end_root.hex(),
            "proof": [p.hex() for p in tree.proof()],
            "algorithm": "RFC 9162 section 2.1.4 consistency proof; nodes are hex SHA-256",
        }
        (out / "checkpoints/consistency.json").write_text(json.dumps(doc, indent=2) + "\n")
        files.append(file_entry(out, "checkpoints/consistency.json", "application/json"))
        return files, start_root
