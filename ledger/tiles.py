"""Stored subtree hashes (tlog-tiles layout in a table) so proofs never read every leaf.

Why: an RFC 6962 proof needs O(log n) subtree roots. Recomputing them from the leaves costs
O(n) per proof (seconds at 1M events). Following C2SP tlog-tiles, tile (level L, index t) holds
the hashes of the tree nodes at height 8*L numbered 256*t .. 256*t+width-1; level 0 holds the
leaf hashes. Every stored node roots a perfect subtree wholly inside the log, so it is final:
the sequencer only extends the right-most tile of each level, inside the batch transaction.

Any perfect node (height h, index i) is the fold of 2**(h % 8) consecutive nodes of one tile at
level h // 8, so a proof reads at most two tiles per level (~4 rows at 1M events) in one query.
The pure helpers (`node_keys`, `range_nodes`, `*_ranges`) import nothing from the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg

from ledger.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    inclusion_ranges,
    node_hash,
    root_from_leaf_hashes,
)
from ledger.store.tiles import (
    delete_tiles,
    iter_leaf_hashes,
    read_tiles,
    tile_length,
    upsert_tiles,
)

__all__ = [
    "TILE_WIDTH",
    "TileReader",
    "consistency_ranges",
    "extend_tiles",
    "inclusion_ranges",
    "range_nodes",
    "rebuild_tiles",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_H = 32

Node = tuple[int, int]  # (height, index)


def range_nodes(lo: int, hi: int) -> list[Node]:
    """Perfect subtrees covering leaves [lo, hi), largest first (lo aligned as in RFC proofs)."""
    nodes: list[Node] = []
    while lo < hi:
        h = (hi - lo).bit_length() - 1
        while lo & ((1 << h) - 1):
            h -= 1
        nodes.append((h, lo >> h))
        lo += 1 << h
    return nodes


def _tile_of(node: Node) -> tuple[int, int, int, int]:
    """(tile level, tile index, offset of the first base node, count of base nodes)."""
    h, i = node
    level, r = divmod(h, TILE_HEIGHT)
    first = i << r
    return level, first >> TILE_HEIGHT, first & (TILE_WIDTH - 1), 1 << r


class TileReader:
    """Reads the tiles a set of ranges needs in one query, then hashes ranges from them."""

    def __init__(self, conn: psycopg.Connection, origin: str) -> None:
        self.conn, self.origin = conn, origin
        self._tiles: dict[tuple[int, int], bytes] = {}
        self._nodes: dict[Node, bytes] = {}

    def load(self, ranges: Iterable[tuple[int, int]]) -> None:
        """Fetch every tile needed to hash `ranges` (skips tiles already cached)."""
        keys = {
            _tile_of(node)[:2] for lo, hi in ranges for node in range_nodes(lo, hi)
        } - self._tiles.keys()
        self._tiles.update(read_tiles(self.conn, self.origin, keys))

    def node(self, node: Node) -> bytes:
        """Hash of one perfect subtree, from its tile (memoised: stored nodes never change)."""
        cached = self._nodes.get(node)
        if cached is not None:
            return cached
        level, idx, offset, count = _tile_of(node)
        data = self._tiles.get((level, idx))
        if data is None or len(data) < (offset + count) * _H:
            raise LookupError(
                f"{self.origin}: tile {level}/{idx} missing or short (run the sequencer to rebuild)"
            )
        hashes = [data[j * _H : (j + 1) * _H] for j in range(offset, offset + count)]
        value = self._nodes[node] = root_from_leaf_hashes(hashes)
        return value

    def range_hash(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi) (EMPTY_ROOT when empty)."""
        nodes = [self.node(n) for n in range_nodes(lo, hi)]
        if not nodes:
            return EMPTY_ROOT
        r = nodes[-1]
        for h in reversed(nodes[:-1]):
            r = node_hash(h, r)
        return r

    def hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Load and hash several ranges (one query)."""
        self.load(ranges)
        return [self.range_hash(lo, hi) for lo, hi in ranges]


def _edge_keys(size: int) -> list[tuple[int, int, int]]:
    """(level, tile index, width) of the right-most partial tile of every level at `size`."""
    out: list[tuple[int, int, int]] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        if count & (TILE_WIDTH - 1):
            out.append((level, count >> TILE_HEIGHT, count & (TILE_WIDTH - 1)))
        level += 1
    return out


class _Builder:
    """Per-level right-edge buffers; full tiles cascade their root one level up."""

    def __init__(self, size: int, edges: dict[int, list[bytes]]) -> None:
        self.touched: dict[tuple[int, int], list[bytes]] = {}  # joined once, in _write
        self.level_count: dict[int, int] = {}
        self.buffers: dict[int, list[bytes]] = {}
        level = 0
        while size >> (TILE_HEIGHT * level):
            self.level_count[level] = size >> (TILE_HEIGHT * level)
            self.buffers[level] = list(edges.get(level, []))
            level += 1

    def push(self, level: int, h: bytes) -> None:
        count = self.level_count.get(level, 0)
        buf = self.buffers.setdefault(level, [])
        buf.append(h)
        count += 1
        self.level_count[level] = count
        idx = (count - 1) >> TILE_HEIGHT
        self.touched[(level, idx)] = buf
        if len(buf) == TILE_WIDTH:
            root = root_from_leaf_hashes(buf)
            self.buffers[level] = []
            self.push(level + 1, root)


def _write(
    conn: psycopg.Connection, origin: str, touched: dict[tuple[int, int], list[bytes]]
) -> None:
    upsert_tiles(conn, origin, {key: b"".join(hashes) for key, hashes in touched.items()})


def rebuild_tiles(conn: psycopg.Connection, origin: str, size: int) -> None:
    """Recompute every tile of `origin` from the stored leaf hashes of seq < size."""
    delete_tiles(conn, origin)
    builder = _Builder(0, {})
    for leaf in iter_leaf_hashes(conn, origin, size):
        builder.push(0, leaf)
    _write(conn, origin, builder.touched)


def extend_tiles(
    conn: psycopg.Connection, origin: str, old_size: int, leaves: Sequence[bytes]
) -> None:
    """Append `leaves` (seq old_size..) to the tiles of `origin`; call inside the batch."""
    if not leaves:
        return
    edges = _edge_keys(old_size)
    found = _edge_hashes(conn, origin, edges)
    complete = all(len(found.get(level, [])) == width for level, _i, width in edges)
    if old_size and (not complete or not _has_tile(conn, origin, old_size)):
        rebuild_tiles(conn, origin, old_size)
        found = _edge_hashes(conn, origin, edges)
    builder = _Builder(old_size, found)
    for leaf in leaves:
        builder.push(0, leaf)
    _write(conn, origin, builder.touched)


def _edge_hashes(
    conn: psycopg.Connection, origin: str, edges: list[tuple[int, int, int]]
) -> dict[int, list[bytes]]:
    """The stored hashes of each level's right-edge tile, split into 32-byte nodes."""
    tiles = read_tiles(conn, origin, [(level, idx) for level, idx, _width in edges])
    return {
        level: [data[j : j + _H] for j in range(0, len(data), _H)]
        for (level, _idx), data in tiles.items()
    }


def _has_tile(conn: psycopg.Connection, origin: str, size: int) -> bool:
    """Whether the level-0 tile holding leaf size-1 exists (tiles may predate migration 0004)."""
    length = tile_length(conn, origin, (size - 1) >> TILE_HEIGHT)
    return length is not None and length >= (((size - 1) & (TILE_WIDTH - 1)) + 1) * _H
