"""Key ring: rotation logged and endorsed in-band, retired/revoked keys rejected by size (#21)."""

from __future__ import annotations

import json
import os
import stat

import psycopg

from ledger.config import Settings
from ledger.note import Checkpoint, Signer, open_note
from ledger.store.sequencer import log_signer
from ledger.verify import verify_ledger
from tests.conftest import CliResult
from tests.integrity.conftest import Cli
from tests.ledgerkit import append, chained_run


def _rotate(icli: Cli) -> dict[str, object]:
    res: CliResult = icli("keys", "rotate", "--json")
    assert res.exit_code == 0, res.stderr
    return dict(json.loads(res.stdout))


def test_rotation_keeps_history_valid_and_switches_signer(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))  # size 4, old key
    old = log_signer(ledger_settings)
    info = _rotate(icli)
    assert info["old_key_id"] == old.key_id.hex()
    assert info["valid_from_size"] == {ledger_settings.origin(): 5}
    new = log_signer(ledger_settings)
    assert new.key_id.hex() == info["new_key_id"] != old.key_id.hex()
    retired = ledger_settings.log_key_path.with_name(f"log.key.retired-{old.key_id.hex()}")
    assert stat.S_IMODE(os.stat(retired).st_mode) == 0o600
    append(ledger_conn, ledger_settings, chained_run(1))
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.events_verified, report.checkpoints_verified) == ("ok", 9, 3)
    note = ledger_conn.execute(  # type: ignore[index]
        "SELECT note FROM ledger_checkpoints WHERE tree_size = 9"
    ).fetchone()[0]
    assert f"\u2014 {ledger_settings.origin()} " in note  # C2SP: key name = origin
    assert open_note(note.encode(), [new.verifier]).verified_by == [new.verifier]
    assert icli("verify").exit_code == 0


def test_21_checkpoint_signed_by_retired_key(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))
    old = log_signer(ledger_settings)
    old_skey = old.private_key_string()
    _rotate(icli)
    append(ledger_conn, ledger_settings, chained_run(1))  # size 9 signed by the new key
    stolen = Signer.from_skey(old_skey)
    root = ledger_conn.execute(  # type: ignore[index]
        "SELECT root_hash FROM ledger_checkpoints WHERE tree_size = 9"
    ).fetchone()[0]
    forged = stolen.sign_note(Checkpoint(ledger_settings.origin(), 9, bytes(root)).body()).decode()
    ledger_conn.execute("SET session_replication_role = replica")
    ledger_conn.execute("UPDATE ledger_checkpoints SET note = %s WHERE tree_size = 9", (forged,))
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.verdict, report.first_bad_seq) == ("invalid", "key_not_valid", 5)
    assert "not valid at size 9" in (report.reason or "")


def test_revoked_key_invalidates_later_checkpoints(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli
) -> None:
    for _ in range(3):
        append(ledger_conn, ledger_settings, chained_run(1))  # checkpoints 4, 8, 12 (old key)
    old = log_signer(ledger_settings).key_id.hex()
    _rotate(icli)  # new key valid from 13
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"
    res = icli("keys", "revoke", old, "--from-size", "6", "--reason", "leaked")
    assert res.exit_code == 0, res.stderr
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.verdict, report.first_bad_seq) == ("invalid", "key_not_valid", 4)
    assert "not valid at size 8" in (report.reason or "")


def test_revoking_the_key_in_use_is_refused(ledger_settings: Settings, icli: Cli) -> None:
    current = log_signer(ledger_settings).key_id.hex()
    res = icli("keys", "revoke", current, "--from-size", "0")
    assert res.exit_code == 2 and "rotate` first" in res.stderr


def test_key_material_never_in_stderr(ledger_settings: Settings, icli: Cli) -> None:
    signer = log_signer(ledger_settings)
    secret = signer.private_key_string()
    seed_b64 = secret.split("+", 4)[4]  # PRIVATE+KEY+<name>+<id>+<base64>; base64 may hold "+"
    os.chmod(ledger_settings.log_key_path, 0o644)  # unsafe mode: every key-using command fails
    for args in (("keys", "show"), ("keys", "rotate")):
        res = icli(*args)
        assert res.exit_code != 0
        assert seed_b64 not in res.stderr and seed_b64 not in res.stdout
        assert "PRIVATE+KEY" not in res.stderr
    res = icli("keys", "show")
    assert "chmod 600" in res.stderr
    os.chmod(ledger_settings.log_key_path, 0o600)
    ledger_settings.log_key_path.write_text(secret[:-3] + "!!!\n")  # corrupt key file
    res = icli("keys", "show")
    assert res.exit_code == 4 and seed_b64[:20] not in res.stderr
