"""Tree evidence of a bundle: leaves [0, end), both checkpoints, and the consistency proof.

Why separate: it is the part that proves the population sits in the signed log. Leaves are
streamed from PostgreSQL in seq ranges into `ledger/leaves.parquet` and into a `StreamingTree`,
so the roots at both sizes and the RFC 6962 consistency proof come out of one pass in flat
memory; both checkpoints are re-verified against the recomputed roots before they are shipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

from exporters.bundle_seal import file_entry
from exporters.rows import LEAF_SCHEMA
from exporters.treeproof import StreamingTree
from ledger.errors import VerificationFailed
from ledger.note import Checkpoint, Verifier, open_note

__all__ = ["write_tree"]

_LEAF_BATCH = (
    "SELECT seq, leaf_hash FROM ledger_events WHERE origin = %s AND seq >= %s AND seq < %s"
    " ORDER BY seq"
)
_STEP = 100_000


def write_tree(
    conn: psycopg.Connection,
    out: Path,
    *,
    origin: str,
    start: tuple[int, str | None],
    end: tuple[int, bytes, str],
    verifiers: list[Verifier],
) -> tuple[list[dict[str, Any]], bytes]:
    """Write leaves, checkpoints and proof; return their manifest entries and the start root."""
    start_size, start_note = start
    end_size, end_root, end_note = end
    tree = StreamingTree(start_size, end_size)
    writer = pq.ParquetWriter(out / "ledger/leaves.parquet", LEAF_SCHEMA, compression="none")
    for lo in range(0, end_size, _STEP):
        hi = min(end_size, lo + _STEP)
        rows = conn.execute(_LEAF_BATCH, (origin, lo, hi)).fetchall()
        if len(rows) != hi - lo or int(rows[0][0]) != lo:
            raise VerificationFailed(
                f"ledger has a hole in seq {lo}..{hi - 1}; run `ledger verify`"
            )
        leaves = [bytes(r[1]) for r in rows]
        tree.feed(leaves)
        columns = {
            "seq": pa.array(range(lo, hi), pa.int64()),
            "leaf_hash": pa.array(leaves, pa.binary(32)),
        }
        writer.write_table(pa.table(columns, schema=LEAF_SCHEMA))
    writer.close()
    files = [file_entry(out, "ledger/leaves.parquet", "application/vnd.apache.parquet", end_size)]
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
