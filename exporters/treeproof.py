"""Streaming Merkle work for exports: roots at two sizes and an RFC 6962 consistency proof.

Why: `ledger.merkle.consistency_proof` needs every leaf hash in memory; a bundle over a large log
must stay flat. A consistency proof is a list of roots of disjoint subtrees whose boundaries
depend only on the two sizes, so we compute the boundaries first (the same walk as RFC 9162
SUBPROOF, on sizes only) and fill each subtree root while the leaves stream past once.
Pure: imports only `ledger.merkle`, so the offline verifier may use it too.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.merkle import EMPTY_ROOT, CompactRange, consistency_ranges

__all__ = ["StreamingTree"]


class StreamingTree:
    """Feed leaf hashes in order; get the root at `mid_size` and `size`, and a consistency proof."""

    def __init__(self, mid_size: int, end_size: int) -> None:
        self.mid_size = mid_size
        self.end_size = end_size
        self.tree = CompactRange()
        self.mid_root: bytes | None = None if mid_size else EMPTY_ROOT
        self._ranges = consistency_ranges(mid_size, end_size) if mid_size else []
        self._parts = [CompactRange() for _ in self._ranges]

    def feed(self, leaves: Sequence[bytes]) -> None:
        """Append the next leaves (in seq order, starting where the previous call stopped)."""
        base = self.tree.size
        end = base + len(leaves)
        for (lo, hi), part in zip(self._ranges, self._parts, strict=True):
            a, b = max(lo, base), min(hi, end)
            if a < b:
                part.append_many(leaves[a - base : b - base])
        if self.mid_root is None and base <= self.mid_size <= end:
            cut = self.mid_size - base
            self.tree.append_many(leaves[:cut])
            self.mid_root = self.tree.root()
            self.tree.append_many(leaves[cut:])
        else:
            self.tree.append_many(leaves)

    def proof(self) -> list[bytes]:
        """The consistency proof mid_size -> end_size (after every leaf was fed)."""
        for (lo, hi), part in zip(self._ranges, self._parts, strict=True):
            if part.size != hi - lo:
                raise ValueError(f"range {lo}..{hi} incomplete: fed {part.size} leaves")
        return [part.root() for part in self._parts]
