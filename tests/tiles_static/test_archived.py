"""`ledger tiles export` on a log whose prefix was archived (WALK20 finding 11).

The archived bodies left the database by design: the hash tiles (ledger_tiles) are still all
there and are written; the entry bundles holding an archived seq are omitted with a reason file
naming the archive record (never "body does not match its leaf hash"). Each log is exported on
its own: a log whose stored tiles disagree with its checkpoint is one `error:` line, the others
are still written, and the exit code (1) comes after all of them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import make_event
from ledger.store.sequencer import log_signer
from tests.ledgerkit import append, chained_run
from tests.retention.test_archive import LATER, OLD, _cli, _soon
from tests.tiles_static.conftest import GoReader


def test_export_after_an_archive_omits_the_archived_bundles_only(
    goreader: GoReader, ledger_conn: psycopg.Connection, ledger_settings: Settings,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """arc (ranges of 128): partition.created 0, old 1..127 (one batch), 2099 128..329; the
    archive takes seq 0..127 and records itself at 330. zed sorts after arc."""
    cli = _cli(monkeypatch, capsys, ledger_settings)
    assert cli("tenants", "add", "arc", "--own-partition", "--range-size", "128").exit_code == 0
    note = make_event("annotation", run_id=uuid.uuid4(), run_seq=0, data={}, tenant="arc", **OLD)
    append(ledger_conn, ledger_settings, [*chained_run(62, tenant="arc", **OLD), note])
    append(ledger_conn, ledger_settings, chained_run(100, tenant="arc", **LATER))
    append(ledger_conn, ledger_settings, chained_run(1, tenant="zed"))
    done = cli("archive", "--tenant", "arc", "--before", _soon(), "--out", str(tmp_path / "a"),
               "--json")  # fmt: skip
    assert done.exit_code == 0, done.stderr
    digest, arc = json.loads(done.stdout)["bundle_sha256"], ledger_settings.origin("arc")
    out = tmp_path / "tiles"
    exported = cli("tiles", "export", str(out))
    assert (exported.exit_code, exported.stderr) == (0, "")
    lines = {line.split(":", 1)[0]: line for line in exported.stdout.splitlines()}
    assert lines[arc].startswith(f"{arc}: size 331, ")
    assert lines[arc].endswith(f"1 entry bundles omitted (see .omitted) -> {out / 'arc'}"
                               "/checkpoint")  # fmt: skip
    assert ledger_settings.origin("zed") in lines
    assert (out / "arc/tile/entries/000.omitted").read_text() == (
        f"archived: seq 0..127 of {arc} left the database (archive.recorded at seq 330, bundle "
        f"sha256 {digest}); their entries are in that archive (its bundle, and tile/entries of "
        "its tiles up to its pin); the hash tiles here are complete\n")
    assert (out / "arc/tile/entries/001.p/75").is_file()
    vkey = log_signer(ledger_settings, ledger_conn).vkey
    got = goreader(out / "arc", vkey, 300, 330)
    assert (got.code, got.stderr) == (0, "")
    assert got.lines[0] == f"checkpoint {arc} size 331 signature ok"
    assert got.lines[1].startswith("root from tiles matches ")
    assert got.lines[2:] == ["leaf 300 included", "leaf 330 included"]
    audit = goreader(out / "arc", vkey, "-audit", "-no-entries")
    assert audit.code == 0 and audit.lines[2].startswith("root from tiles matches "), audit


def test_one_bad_log_never_stops_the_others(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, pg_admin_dsn: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    cli = _cli(monkeypatch, capsys, ledger_settings)
    for tenant in ("acme", "zed"):
        append(ledger_conn, ledger_settings, chained_run(2, tenant=tenant))
    acme, zed = ledger_settings.origin("acme"), ledger_settings.origin("zed")
    with psycopg.connect(ledger_settings.dsn or "", autocommit=True) as owner:
        owner.execute("UPDATE ledger_tiles SET hashes = overlay(hashes placing '\\x00'::bytea "
                      "from 1) WHERE origin = %s AND level = 0 AND idx = 0", (acme,))  # fmt: skip
    out = tmp_path / "tiles"
    got = cli("tiles", "export", str(out))
    assert got.exit_code == 1
    assert got.stderr == (f"error: {acme}: stored tiles do not hash to the root of checkpoint 6 "
                          "(run `ledger verify`)\n")  # fmt: skip
    origins = [line.split(":", 1)[0] for line in got.stdout.splitlines()]
    assert zed in origins and acme not in origins
    assert (out / "zed/checkpoint").is_file() and not (out / "acme").exists()
    as_json = cli("tiles", "export", str(tmp_path / "j"), "--json")
    assert as_json.exit_code == 1
    assert {"origin": acme, "error": f"{acme}: stored tiles do not hash to the root of "
            "checkpoint 6 (run `ledger verify`)"} in json.loads(as_json.stdout)
