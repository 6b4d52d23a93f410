"""Trust roots cannot be swapped (issue 15 item 5), from the attacker's side on the real CLI.

The attacker holds the host: it can delete or replace the log key file and `log.key.pub`, and
rewrite checkpoint rows. It must not get a silent new key, nor a history re-signed with its own
key that `ledger verify` (or `--pin`) accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import nacl.signing
import psycopg
import pytest

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import ExitCode
from ledger.keys import fingerprint
from ledger.note import Checkpoint, Signer, Verifier
from ledger.stamps import stamp_note_body
from ledger.store.append import submit
from ledger.store.logkey import LogKeyMissing
from ledger.store.sequencer import log_signer, try_sequence
from tests.integrity.conftest import Cli
from tests.ledgerkit import append, chained_run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _jsonl() -> bytes:
    text = DOCS.read_text(encoding="utf-8")
    return text.split("```jsonl\n", 1)[1].split("```", 1)[0].encode("utf-8")


def _intake(conn: psycopg.Connection) -> int:
    row = conn.execute(query("intake_count")).fetchone()
    assert row is not None
    return int(row[0])


def test_deleted_log_key_is_never_recreated(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli, tmp_path: Path
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))  # size 4, the original key
    key = ledger_settings.log_key_path
    root = ledger_settings.keys_dir / "root.pub"
    original_root, original_key = root.read_text(), key.read_bytes()
    assert original_root == key.with_name("log.key.pub").read_text()  # written at init
    key.unlink()  # the attacker (or an accident) removes the key
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(_jsonl())
    res = icli("ingest", str(lines))
    assert res.exit_code == ExitCode.KEY, res.stderr
    line = res.stderr.strip()
    assert "\n" not in line and f"log key {key} is missing" in line
    assert "restore the key file" in line and "ledger keys rotate" in line
    assert not key.exists() and root.read_text() == original_root  # no new key, root kept
    assert _intake(ledger_conn) == 0  # the key is checked before anything is stored (item 3)
    submit(ledger_conn, chained_run(1), ledger_settings)  # a hook stores first: intake holds it
    with pytest.raises(LogKeyMissing):
        try_sequence(ledger_conn, ledger_settings, wait=True)
    pending = _intake(ledger_conn)
    assert pending == 4  # nothing lost: the events wait in intake
    res = icli("verify")
    assert res.exit_code == 0 and res.stdout.startswith("OK: 4 events"), res.stdout
    root.unlink()  # even without the root file, the signed checkpoints forbid a new key
    assert icli("ingest", str(lines)).exit_code == ExitCode.KEY and not key.exists()
    root.write_text(original_root)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, original_key)  # restored from backup: the waiting events get sequenced
    os.close(fd)
    assert try_sequence(ledger_conn, ledger_settings, wait=True) == pending
    assert _intake(ledger_conn) == 0
    assert icli("ingest", str(lines)).exit_code == 0  # the refused file, retried: stored once
    res = icli("verify")
    total = 4 + pending + len(_jsonl().splitlines())
    assert res.exit_code == 0 and f"OK: {total} events" in res.stdout, res.stdout


def _plant_key(path: Path, signer: Signer) -> None:
    """The attacker's key file, in place of the log key (mode 0600, as the loader demands)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (signer.private_key_string() + "\n").encode("ascii"))
    os.close(fd)


def test_history_resigned_with_a_foreign_key_is_named(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli, tmp_path: Path
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))  # checkpoint 4, the original key
    pin = tmp_path / "pin.note"
    pin.write_text(icli("checkpoint").stdout)  # the auditor keeps a checkpoint
    append(ledger_conn, ledger_settings, chained_run(1))  # checkpoint 8
    attacker = Signer.generate(ledger_settings.origin_prefix)
    key = ledger_settings.log_key_path
    _plant_key(key, attacker)
    key.with_name("log.key.pub").write_text(attacker.vkey + "\n")
    ledger_conn.execute("SET session_replication_role = replica")  # owner powers on the host
    for size, root in ledger_conn.execute(
        "SELECT tree_size, root_hash FROM ledger_checkpoints"
    ).fetchall():
        note = attacker.sign_note(Checkpoint(ledger_settings.origin(), size, bytes(root)).body())
        ledger_conn.execute(
            "UPDATE ledger_checkpoints SET note = %s WHERE tree_size = %s", (note.decode(), size)
        )
    res = icli("verify", "--json")
    report = json.loads(res.stdout)
    assert res.exit_code == ExitCode.INVALID
    assert (report["verdict"], report["first_bad_seq"]) == ("rewritten_or_foreign_key", 0)
    line = icli("verify").stdout.strip()
    assert line.startswith("INVALID at seq 0") and "rewritten_or_foreign_key: no signature" in line
    assert attacker.key_id.hex() in line
    res = icli("verify", "--pin", str(pin), "--json")
    assert res.exit_code == ExitCode.INVALID and json.loads(res.stdout)["verdict"] == "rewritten"
    # The attacker also removes the root of trust: the rewritten log.key.pub is all verify has,
    # but the pinned checkpoint (signed by the original key) still says "rewritten".
    (ledger_settings.keys_dir / "root.pub").unlink()
    res = icli("verify", "--pin", str(pin))
    assert res.exit_code == ExitCode.INVALID, res.stderr
    assert res.stdout.startswith("INVALID (pinned checkpoint): rewritten: the pinned checkpoint")
    assert "rewritten with another key" in res.stdout


def _resign(conn: psycopg.Connection, settings: Settings, signer: Signer) -> None:
    """Re-sign every stored checkpoint and stamp note with `signer` (owner powers: triggers
    off), as a thorough attacker would."""
    conn.execute("SET session_replication_role = replica")
    rows = "SELECT tree_size, root_hash, stamp_start, stamp_head FROM ledger_checkpoints"
    for size, root, start, head in conn.execute(rows).fetchall():
        note = signer.sign_note(Checkpoint(settings.origin(), size, bytes(root)).body())
        stamp = signer.sign_note(stamp_note_body(settings.origin(), size, start, bytes(head)))
        conn.execute(
            "UPDATE ledger_checkpoints SET note = %s, stamp_note = %s WHERE tree_size = %s",
            (note.decode(), stamp.decode(), size),
        )
    conn.execute("SET session_replication_role = origin")


def _foreign(icli: Cli, *fingerprints: str) -> None:
    res = icli("verify", "--json")
    report = json.loads(res.stdout)
    assert res.exit_code == ExitCode.INVALID, res.stdout + res.stderr
    assert (report["verdict"], report["first_bad_seq"]) == ("rewritten_or_foreign_key", 0)
    assert report["reason"].startswith("rewritten_or_foreign_key: the root of trust recorded")
    for fp in fingerprints:
        assert fp in report["reason"]


def test_root_row_needs_files_and_database_swapped_together(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))  # checkpoint 4: the row is recorded
    root_pub = ledger_settings.keys_dir / "root.pub"
    original = Verifier.from_vkey(root_pub.read_text().strip())
    row = "SELECT vkey FROM ledger_trust_roots WHERE origin_prefix = %s"
    prefix = ledger_settings.origin_prefix
    assert ledger_conn.execute(row, (prefix,)).fetchall() == [(original.vkey,)]
    attacker = Signer.generate(prefix)
    for attempt in (  # the row is append-only, even for the owner (accidents, scripts)
        ("UPDATE ledger_trust_roots SET vkey = %s", (attacker.vkey,)),
        ("DELETE FROM ledger_trust_roots", ()),
        ("TRUNCATE ledger_trust_roots", ()),
    ):
        try:
            ledger_conn.execute(*attempt)
            raise AssertionError(f"{attempt[0]} was accepted")
        except psycopg.errors.InsufficientPrivilege as exc:
            assert "append-only" in str(exc)
    record = query("record_trust_root")
    with ledger_conn.transaction():  # the sequencer role may record (a no-op here: row exists)
        ledger_conn.execute("SET LOCAL ROLE ledger_sequencer")
        got = ledger_conn.execute(record, {"prefix": prefix, "vkey": attacker.vkey}).fetchall()
        assert got == [(original.vkey,)]
    try:  # a writer may not record a root of its choosing (for a prefix without one either)
        with ledger_conn.transaction():
            ledger_conn.execute("SET LOCAL ROLE ledger_writer")
            ledger_conn.execute(record, {"prefix": "other.example", "vkey": attacker.vkey})
        raise AssertionError("a writer recorded a root of trust")
    except psycopg.errors.InsufficientPrivilege:
        pass
    # Database but not files: the row swapped (triggers off) cannot match keys/root.pub.
    ledger_conn.execute("SET session_replication_role = replica")
    ledger_conn.execute("UPDATE ledger_trust_roots SET vkey = %s", (attacker.vkey,))
    _foreign(icli, fingerprint(Verifier.from_vkey(attacker.vkey)), fingerprint(original))
    ledger_conn.execute("UPDATE ledger_trust_roots SET vkey = 'not a vkey'")
    res = icli("verify", "--json")  # a garbled row is named too, never a crash
    assert res.exit_code == ExitCode.INVALID, res.stderr
    assert "not a valid vkey" in json.loads(res.stdout)["reason"]
    ledger_conn.execute("UPDATE ledger_trust_roots SET vkey = %s", (original.vkey,))
    ledger_conn.execute("SET session_replication_role = origin")
    assert icli("verify").stdout.startswith("OK: 4 events")
    # Files but not database: root.pub deleted, attacker key planted, log.key.pub rewritten,
    # every checkpoint re-signed. Without the row, verify trusted log.key.pub and said OK.
    root_pub.unlink()
    _plant_key(ledger_settings.log_key_path, attacker)
    ledger_settings.log_key_path.with_name("log.key.pub").write_text(attacker.vkey + "\n")
    _resign(ledger_conn, ledger_settings, attacker)
    _foreign(icli, fingerprint(original), fingerprint(Verifier.from_vkey(attacker.vkey)))
    line = icli("verify").stdout  # the one-line form names both as well
    assert line.startswith("INVALID at seq 0") and fingerprint(original) in line
    # The attacker keeps sequencing: root.pub is re-created with its key, the row stays.
    append(ledger_conn, ledger_settings, chained_run(1))
    assert root_pub.read_text().strip() == attacker.vkey
    assert ledger_conn.execute(row, (prefix,)).fetchall() == [(original.vkey,)]
    _foreign(icli, fingerprint(original))


def test_rotation_from_the_recorded_root_stays_ok(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))
    first = (ledger_settings.keys_dir / "root.pub").read_text().strip()
    res = icli("keys", "rotate")
    assert res.exit_code == 0, res.stderr
    append(ledger_conn, ledger_settings, chained_run(1))
    current = ledger_settings.log_key_path.with_name("log.key.pub").read_text().strip()
    assert current != first  # signed by the new key, endorsed from the recorded root
    rows = ledger_conn.execute("SELECT vkey FROM ledger_trust_roots").fetchall()
    assert rows == [(first,)]
    res = icli("verify")
    assert res.exit_code == 0 and res.stdout.startswith("OK: 9 events"), res.stdout + res.stderr


def test_checkpoint_key_name_is_the_origin_and_legacy_names_verify(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli, tmp_path: Path
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))  # checkpoint 4
    append(ledger_conn, ledger_settings, chained_run(1))  # checkpoint 8
    origin = ledger_settings.origin()
    signer = log_signer(ledger_settings)
    rows = dict(ledger_conn.execute("SELECT tree_size, note FROM ledger_checkpoints").fetchall())
    body, sig_line = rows[8].split("\n\n")
    name, sig64 = sig_line.removeprefix("\u2014 ").rstrip("\n").split(" ")
    assert name == origin  # C2SP: the key name is the origin; checked here without ledger.note
    raw = base64.b64decode(sig64)
    kid = hashlib.sha256(origin.encode() + b"\n\x01" + signer.public_key).digest()[:4]
    assert raw[:4] == kid
    nacl.signing.VerifyKey(signer.public_key).verify((body + "\n").encode(), raw[4:])
    # A checkpoint (and a pin) from before: the legacy key name still verifies.
    legacy = signer.sign_note(Checkpoint(origin, 4, _root(ledger_conn, 4)).body()).decode()
    assert f"\u2014 {ledger_settings.origin_prefix} " in legacy
    ledger_conn.execute("SET session_replication_role = replica")
    ledger_conn.execute("UPDATE ledger_checkpoints SET note = %s WHERE tree_size = 4", (legacy,))
    pin = tmp_path / "legacy.note"
    pin.write_text(legacy)
    res = icli("verify", "--pin", str(pin))
    assert res.exit_code == 0 and res.stdout.startswith("OK: 8 events"), res.stdout + res.stderr


def _root(conn: psycopg.Connection, size: int) -> bytes:
    row = conn.execute("SELECT root_hash FROM ledger_checkpoints WHERE tree_size = %s", (size,))
    found = row.fetchone()
    assert found is not None
    return bytes(found[0])
