"""The `ledger_tiles` table: stored subtree hashes, read and written for `ledger.tiles`.

`ledger.tiles` knows the tlog-tiles layout and the hashing; this module only moves rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import psycopg

from ledger.db.sqlfiles import query

__all__ = [
    "delete_tiles",
    "iter_bodies",
    "iter_leaf_hashes",
    "read_tiles",
    "tile_length",
    "upsert_tiles",
]

TileKey = tuple[int, int]  # (level, index)


def read_tiles(
    conn: psycopg.Connection, origin: str, keys: Iterable[TileKey]
) -> dict[TileKey, bytes]:
    """The stored tiles among `keys` (absent keys are left out), in one query."""
    wanted = sorted(keys)
    if not wanted:
        return {}
    rows = conn.execute(
        query("select_tiles"), (origin, [k[0] for k in wanted], [k[1] for k in wanted])
    ).fetchall()
    return {(int(level), int(idx)): bytes(hashes) for level, idx, hashes in rows}


def upsert_tiles(conn: psycopg.Connection, origin: str, tiles: Mapping[TileKey, bytes]) -> None:
    """Store tiles in one statement; a stored tile is replaced only by one at least as long."""
    if not tiles:
        return
    keys = sorted(tiles)
    conn.execute(
        query("upsert_tiles"),
        (origin, [k[0] for k in keys], [k[1] for k in keys], [tiles[k] for k in keys]),
    )


def delete_tiles(conn: psycopg.Connection, origin: str) -> None:
    """Drop every tile of `origin` (before a rebuild, in the same transaction)."""
    conn.execute(query("delete_tiles"), (origin,))


def iter_leaf_hashes(conn: psycopg.Connection, origin: str, size: int) -> Iterator[bytes]:
    """The stored leaf hashes of seq 0 .. size-1, in seq order, streamed by COPY."""
    with conn.cursor().copy(query("copy_leaf_hashes"), (origin, size)) as copy:
        copy.set_types(["bytea"])
        for (leaf,) in copy.rows():
            yield bytes(leaf)


def tile_length(conn: psycopg.Connection, origin: str, idx: int) -> int | None:
    """Bytes stored in level-0 tile `idx` (None when the tile does not exist)."""
    row = conn.execute(query("tile_length"), (origin, idx)).fetchone()
    return None if row is None else int(row[0])


def iter_bodies(conn: psycopg.Connection, origin: str, lo: int, hi: int) -> Iterator[bytes]:
    """The stored canonical bodies of seq lo .. hi-1, in seq order, streamed by COPY."""
    with conn.cursor().copy(query("copy_bodies_range"), (origin, lo, hi)) as copy:
        copy.set_types(["bytea"])
        for (body,) in copy.rows():
            yield bytes(body)
