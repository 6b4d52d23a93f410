"""`export_tiles` and `ledger tiles export`: incremental and idempotent files, the checkpoint
never backwards, an earlier checkpoint on request, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.tiles_static import TilesOutputError, export_tiles, tile_path, tiles_for_size
from tests.conftest import run_main
from tests.ledgerkit import chained_run
from tests.tiles_static.conftest import grow


def _files(log_dir: Path) -> dict[str, tuple[int, int]]:
    """Every file under the log dir: (inode, mtime_ns), to see what an export rewrote."""
    return {str(p.relative_to(log_dir)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in log_dir.rglob("*") if p.is_file()}


def test_paths_follow_the_spec_vectors() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 1, 17) == "tile/1/001.p/17"
    paths = [s.path for s in tiles_for_size(70000)]
    assert paths[272:] == ["tile/0/272", "tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17",
                           "tile/2/000.p/1"]
    assert [s.path for s in tiles_for_size(256)] == ["tile/0/000", "tile/1/000.p/1"]


def test_export_is_incremental_and_idempotent(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    origin, log_dir = ledger_settings.origin(), tmp_path / "default"
    first_size = grow(ledger_conn, ledger_settings, 150)
    export_tiles(ledger_conn, origin, tmp_path)
    before = _files(log_dir)
    again = export_tiles(ledger_conn, origin, tmp_path)
    assert (again.tiles_written, again.entries_written, again.bytes_written,
            again.checkpoint_written) == (0, 0, 0, False)
    assert _files(log_dir) == before
    size = grow(ledger_conn, ledger_settings, 300 - first_size)
    grown = export_tiles(ledger_conn, origin, tmp_path)
    after = _files(log_dir)
    w = size - 256
    assert sorted(set(after) - set(before)) == [
        "tile/0/000", f"tile/0/001.p/{w}", "tile/1/000.p/1", "tile/entries/000",
        f"tile/entries/001.p/{w}"]
    assert sorted(set(before) - set(after)) == [  # partials of tiles now full: pruned
        f"tile/0/000.p/{first_size}", f"tile/entries/000.p/{first_size}"]
    assert (grown.tiles_written, grown.entries_written, grown.pruned) == (3, 2, 2)
    assert after["checkpoint"] != before["checkpoint"]
    size2 = grow(ledger_conn, ledger_settings, 4)
    export_tiles(ledger_conn, origin, tmp_path)
    last = _files(log_dir)
    assert sorted(k for k in last if last[k] != after.get(k)) == [
        "checkpoint", f"tile/0/001.p/{size2 - 256}", f"tile/entries/001.p/{size2 - 256}"]


def test_upto_and_never_backwards(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    origin = ledger_settings.origin()
    old = grow(ledger_conn, ledger_settings, 20)
    grow(ledger_conn, ledger_settings, 20)
    early = export_tiles(ledger_conn, origin, tmp_path / "a", upto=old)
    assert (early.size, early.checkpoint_written) == (old, True)
    assert early.checkpoint_path.read_text().split("\n")[1] == str(old)
    latest = export_tiles(ledger_conn, origin, tmp_path / "b")
    back = export_tiles(ledger_conn, origin, tmp_path / "b", upto=old)
    assert back.checkpoint_written is False
    assert latest.checkpoint_path.read_text().split("\n")[1] == str(latest.size)
    with pytest.raises(TilesOutputError, match=f"^{origin}: no checkpoint of size 7$"):
        export_tiles(ledger_conn, origin, tmp_path / "c", upto=7)


def test_cli_json_and_one_line_errors(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))
    size = grow(ledger_conn, ledger_settings, 10)
    got = run_main(monkeypatch, capsys, "tiles", "export", str(tmp_path / "out"), "--json")
    assert got.exit_code == 0, got.stderr
    [one] = json.loads(got.stdout)
    assert (one["origin"], one["size"], one["tiles_written"], one["entries_written"],
            one["checkpoint_written"]) == ("agent-ledger.local/default", size, 1, 1, True)
    got = run_main(monkeypatch, capsys, "tiles", "export", str(tmp_path / "out"),
                   "--tenant", "nobody")
    assert (got.exit_code, got.stderr) == (
        2, "error: agent-ledger.local/nobody: no checkpoint yet (run the sequencer)\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    got = run_main(monkeypatch, capsys, "tiles", "export", str(blocker), "--no-entries")
    assert (got.exit_code, got.stderr) == (
        2, f"error: cannot write {blocker}/default/tile/0/000.p/{size}: Not a directory\n")


def test_an_entry_over_65535_bytes_omits_its_bundle_with_a_reason(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    from ledger.events import args_hash
    from tests.ledgerkit import append

    run = chained_run(n_tools=1)
    big = {"blob": "x" * 70000}
    run[1] = run[1].model_copy(update={"data": run[1].data.model_copy(
        update={"args": big, "args_hash": args_hash(big)})})
    size = append(ledger_conn, ledger_settings, run[:2])
    done = export_tiles(ledger_conn, ledger_settings.origin(), tmp_path)
    assert done.omitted == (f"tile/entries/000.p/{size}",)
    reason = (tmp_path / f"default/tile/entries/000.p/{size}.omitted").read_text()
    assert reason.startswith("seq 1: entry of ") and "exceeds the 65535-byte" in reason
    assert (tmp_path / f"default/tile/0/000.p/{size}").stat().st_size == 32 * size
