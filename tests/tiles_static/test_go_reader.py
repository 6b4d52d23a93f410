"""An independent reader (Go's sumdb/tlog + sumdb/note) verifies the exported tiles, reading
only the files: the signed checkpoint, the root recomputed from the tiles, inclusion of leaves
from the entry bundles, consistency with an earlier export; and it catches a tampered file."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo

from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.sequencer import log_signer
from ledger.tiles_static import export_tiles
from tests.tiles_static.conftest import GoReader, grow


@pytest.fixture(scope="module")
def shared_export(
    pg_admin_dsn: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path, str, int, int]]:
    """One ledger for the module, exported at ~150 events (its checkpoint kept aside), then at
    ~420 (two level-0 tiles, one full): (log dir, old checkpoint, vkey, old size, size)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    tmp = tmp_path_factory.mktemp("tiles")
    settings = Settings(home=tmp / "home", dsn=conninfo.make_conninfo(pg_admin_dsn, dbname=name))
    try:
        with connect(settings) as conn:
            origin, out = settings.origin(), tmp / "tiles"
            old_size = grow(conn, settings, 150)
            first = export_tiles(conn, origin, out)
            old = tmp / "old-checkpoint"
            shutil.copy(first.checkpoint_path, old)
            size = grow(conn, settings, 420 - old_size)
            second = export_tiles(conn, origin, out)
            assert (first.size, second.size) == (old_size, size)
            vkey = log_signer(settings, conn).vkey
        yield out / "default", old, vkey, old_size, size
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def exported(
    shared_export: tuple[Path, Path, str, int, int], tmp_path: Path
) -> tuple[Path, Path, str, int, int]:
    """The module's export copied for one test (the tamper tests change files)."""
    log_dir, old, vkey, old_size, size = shared_export
    shutil.copytree(log_dir, tmp_path / "default")
    return tmp_path / "default", old, vkey, old_size, size


def test_go_reader_verifies_checkpoint_root_inclusion_and_consistency(
    goreader: GoReader, exported: tuple[Path, Path, str, int, int]
) -> None:
    log_dir, old, vkey, old_size, size = exported
    got = goreader(log_dir, vkey, "-audit", 0, 255, 256, size - 1, old=old)
    assert got.code == 0, got.stderr
    assert got.lines[:2] == [f"checkpoint agent-ledger.local/default size {size} signature ok",
                             f"audit: {size} leaves, 1 upper tiles, 2 entry bundles consistent"]
    assert got.lines[2].startswith("root from tiles matches ")
    assert got.lines[3:] == [
        "leaf 0 included", "leaf 255 included", "leaf 256 included", f"leaf {size - 1} included",
        f"consistent {old_size} -> {size}"]
    # the layout: one full level-0 tile, the partial edge, level 1's partial; old partial pruned
    width = size - 256
    names = sorted(str(p.relative_to(log_dir)) for p in log_dir.rglob("*") if p.is_file())
    assert names == ["checkpoint", "tile/0/000", f"tile/0/001.p/{width}", "tile/1/000.p/1",
                     "tile/entries/000", f"tile/entries/001.p/{width}"]
    assert (log_dir / "tile/0/000").stat().st_size == 8192


def test_go_reader_catches_a_tampered_tile(
    goreader: GoReader, exported: tuple[Path, Path, str, int, int]
) -> None:
    log_dir, _old, vkey, _old_size, size = exported
    tile = log_dir / "tile/0/000"
    data = bytearray(tile.read_bytes())
    data[32 * 7] ^= 1  # the leaf hash of seq 7
    tile.write_bytes(bytes(data))
    got = goreader(log_dir, vkey, "-audit")
    assert (got.code, got.stderr) == (1, f"error: tile/0: the tree hash of its {size} leaf "
                                         "hashes is not the checkpoint's root\n")
    got = goreader(log_dir, vkey, 6)  # leaf 7's hash is on leaf 6's path
    assert (got.code, got.stderr) == (1, "error: leaf 6: invalid transparency proof\n")


def test_go_reader_catches_a_tampered_entry(
    goreader: GoReader, exported: tuple[Path, Path, str, int, int]
) -> None:
    log_dir, _old, vkey, _old_size, _size = exported
    bundle = log_dir / "tile/entries/000"
    data = bytearray(bundle.read_bytes())
    data[10] ^= 1  # inside the first entry (seq 0)
    bundle.write_bytes(bytes(data))
    got = goreader(log_dir, vkey, 0)
    assert (got.code, got.stderr) == (1, "error: leaf 0: invalid transparency proof\n")
    got = goreader(log_dir, vkey, "-audit")
    assert (got.code, got.stderr) == (1, "error: entry 0 does not hash to its leaf in tile/0\n")


def test_go_reader_refuses_a_checkpoint_signed_by_another_key(
    goreader: GoReader, exported: tuple[Path, Path, str, int, int]
) -> None:
    from ledger.note import Signer

    log_dir, _old, _vkey, _old_size, _size = exported
    other = Signer.generate("agent-ledger.local").vkey
    got = goreader(log_dir, other)
    assert (got.code, got.stderr) == (1, "error: checkpoint: note has no verifiable signatures\n")
