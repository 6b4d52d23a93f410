"""`ledger serve --tiles-dir DIR` (a real process): the static tiles follow each checkpoint, and
an unwritable directory is one warning line while sequencing goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from ledger.config import Settings
from ledger.store.append import submit
from ledger.store.read import latest_checkpoint
from tests.conftest import LEDGER_BIN
from tests.ledgerkit import chained_run


def _until(check: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def _serve(settings: Settings, tiles_dir: Path) -> Iterator[list[str]]:
    """A real `ledger serve --tiles-dir`; yields its stderr lines once it has stopped."""
    env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}
    proc = subprocess.Popen([LEDGER_BIN, "serve", "--tiles-dir", str(tiles_dir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        yield lines
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
        lines.extend(err.splitlines())


def _size(conn: psycopg.Connection, settings: Settings) -> int:
    latest = latest_checkpoint(conn, settings.origin())
    return 0 if latest is None else latest.tree_size


def _on_disk(path: Path) -> int:
    try:
        return int(path.read_text().split("\n")[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_serve_exports_after_each_checkpoint(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "tiles/default/checkpoint"
    with _serve(ledger_settings, tmp_path / "tiles") as stderr:
        for n, size in ((3, 8), (40, 90)):  # a run of n tool calls is 2 + 2n events
            submit(ledger_conn, chained_run(n_tools=n), ledger_settings)
            _until(lambda: _on_disk(checkpoint) == size,  # noqa: B023
                   f"the exported checkpoint to reach size {size}")
    assert (tmp_path / f"tiles/default/tile/entries/000.p/{size}").is_file()
    assert [ln for ln in stderr if "warning" in ln] == []


def test_unwritable_tiles_dir_is_one_warning_and_sequencing_goes_on(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with _serve(ledger_settings, blocker) as stderr:
        for n, size in ((1, 4), (2, 10)):  # sequencing goes on after the failed export
            submit(ledger_conn, chained_run(n_tools=n), ledger_settings)
            _until(lambda: _size(ledger_conn, ledger_settings) == size,  # noqa: B023
                   f"the log to reach size {size}")
    warnings = [ln for ln in stderr if ln.startswith("warning:")]
    assert warnings == ["warning: tiles not written (serve goes on, retrying quietly): cannot "
                        f"write {blocker}/default/tile/0/000.p/4: Not a directory"]
