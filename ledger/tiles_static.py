"""Static C2SP tlog-tiles: the stored tiles and bodies written as files any client can fetch.

Why: `ledger_tiles` already holds the tlog-tiles hashes, but only through our database; an
auditor with a static URL (a web server, object storage with Object Lock) and the log's vkey
should be able to check inclusion and consistency with any tlog-tiles client (Go's
golang.org/x/mod/sumdb/tlog, transparency-dev's) without database credentials.

Layout under `out_dir/<tenant>/` (the tenant is the origin's last path element), per
c2sp.org/tlog-tiles: `checkpoint` (the signed note), `tile/<L>/<N>[.p/<W>]` (W hashes of 32
bytes at height 8*L), `tile/entries/<N>[.p/<W>]` (the stored canonical bodies, each prefixed by
its big-endian uint16 length). A body over 65535 bytes cannot be such an entry, and an archived
prefix (`ledger archive`) has no bodies here: the bundle is left out and `<bundle
path>.omitted` says why (the hash tiles are always complete).

Incremental and idempotent: a file already present with the right size is never rewritten
(a full tile's content is final; a partial tile's path names its width, so it is final too).
Each file goes to a temp name, is fsynced and renamed; the checkpoint is written last, so a
reader never sees a checkpoint whose tiles are missing, and never moves backwards. Partial
tiles of a tile now full are removed after the checkpoint (the spec allows it; clients fall
back to the full tile).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ledger.errors import InputError, LedgerError
from ledger.merkle import leaf_hash
from ledger.note import Checkpoint, NoteError, parse_note
from ledger.store.read import checkpoint_at, cosigned_note, latest_checkpoint, origins
from ledger.store.tiles import iter_bodies, read_tiles
from ledger.tiles import TileReader

__all__ = [
    "HASH_SIZE",
    "MAX_ENTRY",
    "TILE_WIDTH",
    "TileExport",
    "TileFailure",
    "TileSpec",
    "TilesExportError",
    "TilesOutputError",
    "bundles_for_size",
    "entries_path",
    "export_all",
    "export_tiles",
    "index_path",
    "tenant_dir_name",
    "tile_path",
    "tiles_for_size",
]

TILE_WIDTH = 256
HASH_SIZE = 32
MAX_ENTRY = 0xFFFF
_READ_CHUNK = 512  # tiles per query (4 MiB of hashes)


class TilesExportError(LedgerError):
    """The stored tiles are missing or do not match the checkpoint or the bodies (exit 1)."""


class TilesOutputError(InputError):
    """Nothing to export (no such checkpoint) or the output cannot be written (exit 2)."""


def index_path(n: int) -> str:
    """N as tlog-tiles path elements: 3-digit groups, all but the last prefixed 'x'.

    1234067 -> 'x001/x234/067'; 5 -> '005'."""
    if n < 0:
        raise ValueError(f"negative tile index {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if not 0 < width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} not in 1..{TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """`tile/<L>/<N>[.p/<W>]` (relative to the log's prefix)."""
    if not 0 <= level <= 63:
        raise ValueError(f"tile level {level} not in 0..63")
    return f"tile/{level}/{index_path(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """`tile/entries/<N>[.p/<W>]` (relative to the log's prefix)."""
    return f"tile/entries/{index_path(index)}{_suffix(width)}"


@dataclass(frozen=True)
class TileSpec:
    """One resource of a tree: a hash tile (level >= 0) or an entry bundle (level -1)."""

    level: int
    index: int
    width: int

    @property
    def path(self) -> str:
        if self.level < 0:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


def tiles_for_size(size: int) -> list[TileSpec]:
    """Every hash tile of a tree of `size` leaves (full ones, then the partial edge), by level.

    Size 70000 -> tile/0/000..272, tile/0/273.p/112, tile/1/000, tile/1/001.p/17, tile/2/000.p/1.
    """
    specs: list[TileSpec] = []
    level, count = 0, size
    while count:
        full, width = divmod(count, TILE_WIDTH)
        specs.extend(TileSpec(level, i, TILE_WIDTH) for i in range(full))
        if width:
            specs.append(TileSpec(level, full, width))
        level, count = level + 1, count >> 8
    return specs


def bundles_for_size(size: int) -> list[TileSpec]:
    """Every entry bundle of a tree of `size` leaves (the level-0 tiles' shapes)."""
    return [TileSpec(-1, s.index, s.width) for s in tiles_for_size(size) if s.level == 0]


def tenant_dir_name(origin: str) -> str:
    """The directory of an origin's log: its last path element ('acme.example/prod' -> 'prod')."""
    name = origin.rsplit("/", 1)[-1]
    if not name or name in {".", ".."} or name.startswith(".") or "\x00" in name:
        raise TilesOutputError(f"origin {origin!r} has no usable last path element")
    return name


@dataclass(frozen=True)
class TileExport:
    """What one export of one origin did (counts are of files written now, not present)."""

    origin: str
    size: int
    tiles_written: int
    bytes_written: int
    checkpoint_path: Path
    entries_written: int = 0
    #: entry bundles left out (a body over 65535 bytes), by path
    omitted: tuple[str, ...] = ()
    #: False when the checkpoint on disk was already this one (or a larger one: never backwards)
    checkpoint_written: bool = False
    pruned: int = 0


@dataclass
class _Files:
    """Writes files atomically under one log's directory and counts them."""

    root: Path
    written: int = 0
    nbytes: int = 0
    full_now: list[Path] = field(default_factory=list)

    def present(self, rel: str, length: int | None = None) -> bool:
        try:
            st = (self.root / rel).stat()
        except OSError:
            return False
        return length is None or st.st_size == length

    def write(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise TilesOutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.written += 1
        self.nbytes += len(data)
        if rel.startswith("tile/") and ".p/" not in rel:  # a full tile or bundle
            self.full_now.append(self.root / rel.removesuffix(".omitted"))


def _signed_checkpoint(conn: psycopg.Connection, origin: str, upto: int | None) -> bytes:
    """The signed note of `upto` (the latest when None), with its witness cosignatures."""
    if upto is None:
        latest = latest_checkpoint(conn, origin)
        if latest is None:
            raise TilesOutputError(f"{origin}: no checkpoint yet (run the sequencer)")
        size, note = latest.tree_size, latest.note
    else:
        found = checkpoint_at(conn, origin, upto)
        if found is None:
            raise TilesOutputError(f"{origin}: no checkpoint of size {upto}")
        size, note = found.tree_size, found.note
    return (cosigned_note(conn, origin, size) or str(note)).encode("utf-8")


def _note_size(note: bytes) -> int | None:
    try:
        return Checkpoint.parse(parse_note(note)[0]).size
    except NoteError:
        return None


def _write_tiles(conn: psycopg.Connection, origin: str, files: _Files, size: int) -> int:
    """Write the hash tiles missing on disk (prefixes of the stored, possibly longer, rows)."""
    missing = [s for s in tiles_for_size(size) if not files.present(s.path, s.width * HASH_SIZE)]
    for start in range(0, len(missing), _READ_CHUNK):
        chunk = missing[start : start + _READ_CHUNK]
        stored = read_tiles(conn, origin, {(s.level, s.index) for s in chunk})
        for spec in chunk:
            data = stored.get((spec.level, spec.index), b"")[: spec.width * HASH_SIZE]
            if len(data) != spec.width * HASH_SIZE:
                raise TilesExportError(
                    f"{origin}: stored tile {spec.level}/{spec.index} missing or short "
                    "(run the sequencer to rebuild it)")
            files.write(spec.path, data)
    return len(missing)


def _runs(specs: list[TileSpec]) -> Iterator[list[TileSpec]]:
    """Consecutive bundle indexes grouped, so each group is one streamed query."""
    group: list[TileSpec] = []
    for spec in specs:
        if group and spec.index != group[-1].index + 1:
            yield group
            group = []
        group.append(spec)
    if group:
        yield group


def _bundle(origin: str, spec: TileSpec, bodies: list[bytes], level0: bytes) -> bytes | str:
    """The entry bundle, or why it cannot be one; each body is checked against its leaf hash."""
    base = spec.index * TILE_WIDTH
    out = bytearray()
    for j, body in enumerate(bodies):
        if leaf_hash(body) != level0[j * HASH_SIZE : (j + 1) * HASH_SIZE]:
            raise TilesExportError(f"{origin}: seq {base + j}: body does not match its leaf hash "
                                   "in the stored tile (run `ledger verify`)")
        if len(body) > MAX_ENTRY:
            return (f"seq {base + j}: entry of {len(body)} bytes exceeds the {MAX_ENTRY}-byte "
                    "uint16 length prefix of tlog-tiles entry bundles; this bundle is not "
                    "published (the hash tiles are complete; fetch the event from the ledger "
                    "or its evidence bundle and check it against tile/0)\n")
        out += len(body).to_bytes(2, "big") + body
    return bytes(out)


def _archived(conn: psycopg.Connection, origin: str) -> tuple[int, str]:
    """(end of the archived prefix, why its bundles are left out; (0, "") when none): those
    bodies left by design (`archive.recorded`), not tampered; ledger_tiles still has them."""
    from ledger.holds import archive_records

    records = archive_records(conn, origin)
    if not records:
        return 0, ""
    seq, data = max(records, key=lambda r: r[1].seq_to)
    return data.seq_to, (
        f"archived: seq {data.seq_from}..{data.seq_to - 1} of {origin} left the database "
        f"(archive.recorded at seq {seq}, bundle sha256 {data.bundle_sha256}); their entries "
        "are in that archive (its bundle, and tile/entries of its tiles up to its pin); the "
        "hash tiles here are complete\n")


def _write_entries(
    conn: psycopg.Connection, origin: str, files: _Files, size: int
) -> tuple[int, list[str]]:
    """Write the entry bundles missing on disk; returns (written, omitted paths). A bundle
    holding an archived seq is omitted with the archive named (_archived)."""
    missing = [
        s for s in bundles_for_size(size)
        if not files.present(s.path) and not files.present(s.path + ".omitted")
    ]
    written, omitted = 0, []
    archived, why = _archived(conn, origin)
    for spec in [s for s in missing if s.index * TILE_WIDTH < archived]:
        files.write(spec.path + ".omitted", why.encode("utf-8"))
        omitted.append(spec.path)
    missing = [s for s in missing if s.index * TILE_WIDTH >= archived]
    for group in _runs(missing):
        lo = group[0].index * TILE_WIDTH
        hi = group[-1].index * TILE_WIDTH + group[-1].width
        level0 = read_tiles(conn, origin, {(0, s.index) for s in group})
        bodies = iter_bodies(conn, origin, lo, hi)
        for spec in group:
            chunk = [next(bodies, b"") for _ in range(spec.width)]
            result = _bundle(origin, spec, chunk, level0.get((0, spec.index), b""))
            if isinstance(result, str):
                files.write(spec.path + ".omitted", result.encode("utf-8"))
                omitted.append(spec.path)
            else:
                files.write(spec.path, result)
                written += 1
        for _rest in bodies:  # drain the COPY
            pass
    return written, omitted


def _prune(files: _Files) -> int:
    """Remove the `.p/` partials of tiles written full now (after the checkpoint)."""
    pruned = 0
    for path in files.full_now:
        partials = path.with_name(path.name + ".p")
        if partials.is_dir():
            pruned += sum(1 for p in partials.iterdir() if p.is_file())
            shutil.rmtree(partials, ignore_errors=True)
    return pruned


def export_tiles(
    conn: psycopg.Connection,
    origin: str,
    out_dir: Path,
    *,
    upto: int | None = None,
    entries: bool = True,
) -> TileExport:
    """Write (or bring up to date) the tlog-tiles of `origin` at checkpoint `upto` (the latest
    when None) under `out_dir/<tenant>/`; the checkpoint file last. The tiles are checked to
    hash to the checkpoint's root before anything is written."""
    note = _signed_checkpoint(conn, origin, upto)
    checkpoint = Checkpoint.parse(parse_note(note)[0])
    try:
        root = TileReader(conn, origin).hashes([(0, checkpoint.size)])[0]
    except LookupError as exc:
        raise TilesExportError(str(exc)) from None
    if root != checkpoint.root:
        raise TilesExportError(f"{origin}: stored tiles do not hash to the root of checkpoint "
                               f"{checkpoint.size} (run `ledger verify`)")
    files = _Files(out_dir / tenant_dir_name(origin))
    tiles = _write_tiles(conn, origin, files, checkpoint.size)
    written, omitted = (0, []) if not entries else _write_entries(
        conn, origin, files, checkpoint.size)
    target = files.root / "checkpoint"
    current = target.read_bytes() if target.is_file() else None
    on_disk = None if current is None else _note_size(current)
    fresh = current != note and (on_disk is None or on_disk <= checkpoint.size)
    if fresh:
        files.write("checkpoint", note)
    return TileExport(
        origin=origin, size=checkpoint.size, tiles_written=tiles, bytes_written=files.nbytes,
        checkpoint_path=target, entries_written=written, omitted=tuple(omitted),
        checkpoint_written=fresh, pruned=_prune(files) if fresh else 0)


@dataclass(frozen=True)
class TileFailure:
    """One log not exported, and why; `mismatch`: stored tiles or bodies disagree with the
    checkpoint (exit 1), else nothing to export or an unwritable output (exit 2)."""

    origin: str
    reason: str
    mismatch: bool


def export_all(
    conn: psycopg.Connection,
    origin_prefix: str,
    out_dir: Path,
    *,
    tenant: str | None = None,
    entries: bool = True,
) -> list[TileExport | TileFailure]:
    """Export one tenant's log, or every log under `origin_prefix` that has a checkpoint: what
    `ledger tiles export` runs. Each log on its own: one that fails is a TileFailure in the
    list and the others are still exported."""
    names = [f"{origin_prefix}/{tenant}"] if tenant is not None else [o for o in origins(
        conn) if o.startswith(origin_prefix + "/") and latest_checkpoint(conn, o) is not None]
    done: list[TileExport | TileFailure] = []
    for origin in names:
        try:
            done.append(export_tiles(conn, origin, out_dir, entries=entries))
        except (TilesExportError, TilesOutputError) as exc:
            done.append(TileFailure(origin, str(exc), isinstance(exc, TilesExportError)))
    return done
