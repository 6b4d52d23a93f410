"""The arithmetic `verify --jobs` rests on, without a database: chunks are aligned perfect
subtrees, and the root at any size is the full chunks' frontier folded onto the chunk's own root.
"""

from __future__ import annotations

import pytest

from ledger.merkle import CompactRange, leaf_hash
from ledger.verify_chunks import CHUNK_ENV, ChunkSizeError, chunk_size, fold_root, plan


def test_root_at_every_size_is_the_chunks_frontier_folded_onto_the_chunk_root() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(77)]
    size = 8
    upper = CompactRange()
    for lo in range(0, len(leaves), size):
        local = CompactRange()
        for at in range(lo + 1, min(lo + size, len(leaves)) + 1):
            local.append(leaves[at - 1])
            whole = CompactRange.from_leaf_hashes(leaves[:at]).root()
            assert fold_root((*upper.hashes, local.root())) == whole, at
        if local.size == size:
            upper.append(local.root())


def test_plan_cuts_aligned_chunks_and_gives_each_its_checkpoint_sizes() -> None:
    chunks = plan("o", 21, [3, 8, 9, 16, 21, 40], 8)
    assert [(c.lo, c.hi, c.sizes) for c in chunks] == [
        (0, 8, (3, 8)),
        (8, 16, (9, 16)),
        (16, 21, (21,)),
    ]
    assert plan("o", 0, [], 8) == []


@pytest.mark.parametrize("raw", ["0", "12", "-8", "x"])
def test_chunk_size_must_be_a_power_of_two(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHUNK_ENV, raw)
    with pytest.raises(ChunkSizeError, match="must be a power of two"):
        chunk_size()
    monkeypatch.setenv(CHUNK_ENV, "64")
    assert chunk_size() == 64
