"""Subject keys wrapped by a key-encryption key outside the database (issue 14, keys outside the
process): a dump alone opens nothing, erasure still shreds, legacy rows still open, and a
missing KEK is one line with exit code 4. The PKCS#11 KEK round trip is in test_hsm.py (one
SoftHSM2 token per process)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.exceptions
import nacl.public
import nacl.secret
import psycopg
import pytest

from ledger.config import Settings
from ledger.db.sqlfiles import sql_dir
from ledger.errors import ExitCode
from ledger.kek import KekError, kek_path, open_kek
from ledger.keys import pub_path
from ledger.privacy import PayloadOpener, PayloadUnreadable, redact_subject
from ledger.store.privacy import origin_payloads
from ledger.verify import verify_ledger
from tests.integrity.conftest import Cli
from tests.integrity.test_privacy import private_run


def _dump(conn: psycopg.Connection) -> tuple[list[bytes], list[bytes]]:
    """What a thief of the database gets: every bytea of the key table, every ciphertext."""
    keys = [
        bytes(value)
        for row in conn.execute("SELECT * FROM ledger_subject_keys")
        for value in row
        if isinstance(value, bytes | memoryview)
    ]
    ciphertexts = [bytes(r[0]) for r in conn.execute("SELECT ciphertext FROM ledger_payloads")]
    return keys, ciphertexts


def _opens(candidate: bytes, ciphertext: bytes) -> bool:
    """Does `candidate` open `ciphertext` as a SecretBox key or as an X25519 private key?"""
    for attempt in (
        lambda: nacl.secret.SecretBox(candidate).decrypt(ciphertext),
        lambda: nacl.public.SealedBox(nacl.public.PrivateKey(candidate)).decrypt(ciphertext),
    ):
        try:
            attempt()
        except nacl.exceptions.CryptoError:
            continue
        return True
    return False


def _windows(value: bytes) -> list[bytes]:
    """Every 32-byte slice of a stored value (the wrapped key is 80 bytes: try all of it)."""
    return [value[i : i + 32] for i in range(len(value) - 31)]


def test_a_database_dump_alone_decrypts_nothing(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    private_run(ledger_conn, ledger_settings, "alice")
    private_run(ledger_conn, ledger_settings, "bob")
    keys, ciphertexts = _dump(ledger_conn)
    assert len(ciphertexts) == 4 and keys
    schemes = ledger_conn.execute("SELECT DISTINCT scheme, key FROM ledger_subject_keys").fetchall()
    assert schemes == [("x25519-sealed", None)]  # no plaintext key column any more
    candidates = [w for value in keys for w in _windows(value)]
    assert not [
        (candidate, c) for candidate in candidates for c in ciphertexts if _opens(candidate, c)
    ]
    # The KEK itself is not in the database, in any form.
    kek = open_kek(ledger_settings)
    assert kek.scheme == "x25519-sealed"
    secret = kek_path(ledger_settings).read_text().split()[1]
    assert all(secret.encode() not in value for value in keys + ciphertexts)
    # The real read path, with the KEK outside the database, opens every payload.
    opener = PayloadOpener(ledger_settings)
    plain = [
        opener.open(row.key, row.ciphertext)
        for row in origin_payloads(ledger_conn, ledger_settings.origin()).values()
        if row.key is not None
    ]
    assert sum(b"alice@example.com" in p for p in plain) == 1
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified) == ("ok", 4)


def test_the_kek_is_created_with_the_first_log_key_only(ledger_settings: Settings) -> None:
    """Created 0600 beside the first log key of the empty ledger (by the first private write)."""
    path = kek_path(ledger_settings)
    assert not path.exists() and not ledger_settings.log_key_path.exists()
    from ledger.store.sequencer import log_signer

    log_signer(ledger_settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pub_path(path).read_text().startswith("agent-ledger-subject-kek-x25519-pub ")
    # Once the ledger has a log key, a lost KEK is never replaced behind the operator's back.
    path.unlink()
    log_signer(ledger_settings)
    assert not path.exists()


def test_erased_subject_cannot_be_opened_even_with_the_kek(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    private_run(ledger_conn, ledger_settings, "alice")
    private_run(ledger_conn, ledger_settings, "bob")
    before = ledger_conn.execute(
        "SELECT ciphertext FROM ledger_payloads WHERE subject = 'alice'"
    ).fetchall()
    redact_subject(ledger_conn, ledger_settings, "alice", "GDPR art. 17")
    # An attacker who kept alice's ciphertexts and steals the KEK afterwards: the wrapped
    # private key went with the row, the KEK is not a subject key, bob's key is bob's.
    kek_secret = nacl.public.PrivateKey(
        __import__("base64").b64decode(kek_path(ledger_settings).read_text().split()[1])
    )
    opener = PayloadOpener(ledger_settings)
    bob = [r.key for r in origin_payloads(ledger_conn, ledger_settings.origin()).values()]
    assert ledger_conn.execute(
        "SELECT count(*) FROM ledger_subject_keys WHERE subject = 'alice'"
    ).fetchone() == (0,)
    for (ciphertext,) in before:
        with pytest.raises(nacl.exceptions.CryptoError):
            nacl.public.SealedBox(kek_secret).decrypt(bytes(ciphertext))
        for key in bob:
            assert key is not None
            with pytest.raises(PayloadUnreadable, match="does not open"):
                opener.open(key, bytes(ciphertext))


def _as_before_0008(conn: psycopg.Connection, subject: str, key: bytes) -> None:
    """A subject key row as a ledger created before migration 0008 holds it (plaintext), then
    migration 0008 run again over it exactly as an upgrade does."""
    conn.execute("ALTER TABLE ledger_subject_keys DROP CONSTRAINT subject_key_wrapped")
    conn.execute(
        "INSERT INTO ledger_subject_keys (origin, subject, key, scheme) "
        "VALUES (%s, %s, %s, 'legacy-secretbox')",
        ("agent-ledger.local/default", subject, key),  # the test ledger's origin
    )
    conn.execute((sql_dir() / "migrations" / "0008_wrapped_subject_keys.sql").read_text())


def test_legacy_plaintext_subject_keys_still_decrypt(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    key = os.urandom(32)
    _as_before_0008(ledger_conn, "carol", key)
    private_run(ledger_conn, ledger_settings, "carol")  # a known subject keeps its legacy key
    private_run(ledger_conn, ledger_settings, "dave")  # a new subject is always wrapped
    rows = dict(ledger_conn.execute("SELECT subject, scheme FROM ledger_subject_keys").fetchall())
    assert rows == {"carol": "legacy-secretbox", "dave": "x25519-sealed"}
    carol = ledger_conn.execute(
        "SELECT ciphertext FROM ledger_payloads WHERE subject = 'carol'"
    ).fetchall()
    assert all(b"carol" in nacl.secret.SecretBox(key).decrypt(bytes(c[0])) for c in carol)
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified) == ("ok", 4)
    assert icli("verify").exit_code == 0


def test_a_writer_cannot_plant_a_new_plaintext_subject_key(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """A hostile writer pre-creating a plaintext key for a subject other writers write to."""
    with pytest.raises(psycopg.errors.CheckViolation, match="subject_key_wrapped"):
        ledger_conn.execute(
            "INSERT INTO ledger_subject_keys (origin, subject, key, scheme) "
            "VALUES ('agent-ledger.local/default', 'erin', %s, 'legacy-secretbox')",
            (os.urandom(32),),
        )


def test_missing_kek_is_one_line_with_exit_code_4(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    private_run(ledger_conn, ledger_settings, "alice")
    path = kek_path(ledger_settings)
    path.rename(path.with_name("kek.aside"))
    pub_path(path).unlink()
    res = icli("verify")
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == (
        f"error: no subject key-encryption key at {path}: restore it, or create one with "
        "`ledger keys kek` (a new KEK cannot open subject keys wrapped by a lost one)"
    )
    # A writer with a new subject and no KEK (the ledger has its log key): the same line.
    with pytest.raises(KekError, match="no subject key-encryption key at"):
        private_run(ledger_conn, ledger_settings, "bob")
    # `ledger keys kek` creates a KEK explicitly; it cannot open alice's wrapped key.
    made = icli("keys", "kek")
    assert made.exit_code == 0, made.stderr
    assert made.stdout.startswith(f"created: {path}\n")
    assert icli("keys", "kek").stdout.startswith(f"exists: {path}\n")
    res = icli("verify")
    assert res.exit_code == ExitCode.INVALID
    assert "payload does not match its commitment at seq 1 (subject key is wrapped by" in (
        res.stdout
    )
    # Restoring the KEK restores reading.
    path.unlink()
    path.with_name("kek.aside").rename(path)
    assert icli("verify").exit_code == 0


def test_kek_file_with_unsafe_mode_is_refused(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    private_run(ledger_conn, ledger_settings, "alice")
    path: Path = kek_path(ledger_settings)
    path.chmod(0o644)
    with pytest.raises(KekError, match="allows group/other access; fix with: chmod 600"):
        open_kek(ledger_settings)
