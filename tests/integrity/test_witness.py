"""Witness: state outside the database; cosigns only consistent checkpoints, else says why."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import stat
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.note import Checkpoint, open_note
from ledger.store.sequencer import log_signer
from ledger.verify import trusted_verifiers, verify_ledger
from ledger.witness import CosignatureVerifier, Witness, WitnessRefused, cosignature_message
from tests.integrity.conftest import Cli
from tests.ledgerkit import append, chained_run


def test_cosignature_format_and_state_files(tmp_path: Path, ledger_settings: Settings) -> None:
    signer = log_signer(ledger_settings)
    witness = Witness(tmp_path / "w")
    assert stat.S_IMODE(os.stat(tmp_path / "w" / "witness.key").st_mode) == 0o600
    with pytest.raises(WitnessRefused) as unknown:
        witness.cosign(
            signer.sign_note(Checkpoint(ledger_settings.origin(), 1, b"\x01" * 32).body()), []
        )
    assert unknown.value.code == "unknown-origin"
    witness.add_log(ledger_settings.origin(), [signer.vkey])
    body = Checkpoint(ledger_settings.origin(), 1, b"\x01" * 32).body()
    cosigned = witness.cosign(signer.sign_note(body), [], now=1700000000)
    line = cosigned.decode().splitlines()[-1]
    assert line.startswith("\u2014 agent-ledger-witness ")
    verifier = CosignatureVerifier.from_vkey((tmp_path / "w" / "witness.vkey").read_text())
    assert base64.b64decode(verifier.vkey.split("+", 2)[2])[0] == 0x04  # cosignature/v1 key type
    assert verifier.timestamp(cosigned) == 1700000000
    assert cosignature_message(body, 5).startswith(b"cosignature/v1\ntime 5\n")
    assert open_note(cosigned, [signer.verifier]).body == body  # log signature still valid
    assert (
        json.loads((tmp_path / "w" / "state.json").read_text())[ledger_settings.origin()]["size"]
        == 1
    )
    rogue = CosignatureVerifier("agent-ledger-witness", b"\x02" * 32)
    with pytest.raises(ValueError, match="no cosignature"):
        rogue.timestamp(cosigned)


def test_sequencer_with_witness_and_verify_witness_key(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path, icli: Cli
) -> None:
    wdir = tmp_path / "witness"
    settings = dataclasses.replace(ledger_settings, extra={"witness_dir": str(wdir)})
    for _ in range(3):
        append(ledger_conn, settings, chained_run(2))
    witness = Witness(wdir)
    assert witness.latest(settings.origin())[0] == 18  # type: ignore[index]
    verifier = witness.verifier
    report = verify_ledger(ledger_conn, settings, witnesses=[verifier])
    assert (report.status, report.witnessed) == ("ok", {settings.origin(): 18})
    res = icli("verify", "--witness-key", str(wdir / "witness.vkey"), "--json")
    assert res.exit_code == 0, res.stdout + res.stderr
    # a batch sequenced without the witness is not published: verify --witness-key fails
    append(ledger_conn, ledger_settings, chained_run(1))
    report = verify_ledger(ledger_conn, ledger_settings, witnesses=[verifier])
    assert (report.status, report.verdict, report.first_bad_seq) == ("invalid", "unwitnessed", 22)
    # the witness state outlives the database: it refuses an older size
    note = ledger_conn.execute(  # type: ignore[index]
        "SELECT note FROM ledger_checkpoints WHERE tree_size = 6"
    ).fetchone()[0]
    with pytest.raises(WitnessRefused, match="stale"):
        witness.cosign(note.encode(), [])


def test_witness_cli_flow(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path, icli: Cli
) -> None:
    state = tmp_path / "wstate"
    append(ledger_conn, ledger_settings, chained_run(1))
    vkey = icli("witness", "init", "--state", str(state)).stdout.strip()
    pub = ledger_settings.log_key_path.with_name("log.key.pub")
    assert (
        icli(
            "witness", "add-log", ledger_settings.origin(), str(pub), "--state", str(state)
        ).exit_code
        == 0
    )
    (tmp_path / "cp4").write_text(icli("checkpoint").stdout)
    res = icli(
        "witness",
        "cosign",
        str(tmp_path / "cp4"),
        "--state",
        str(state),
        "--out",
        str(tmp_path / "c4"),
    )
    assert res.exit_code == 0, res.stderr
    append(ledger_conn, ledger_settings, chained_run(1))
    (tmp_path / "cp8").write_text(icli("checkpoint").stdout)
    res = icli("witness", "cosign", str(tmp_path / "cp8"), "--state", str(state))
    assert res.exit_code == 1 and res.stderr.startswith("refused: inconsistent")
    (tmp_path / "proof").write_text(icli("prove", "--consistency", "4").stdout)
    res = icli(
        "witness",
        "cosign",
        str(tmp_path / "cp8"),
        "--state",
        str(state),
        "--proof",
        str(tmp_path / "proof"),
    )
    assert res.exit_code == 0, res.stderr
    assert CosignatureVerifier.from_vkey(vkey).timestamp(res.stdout.encode()) > 0
    res = icli("witness", "cosign", str(tmp_path / "cp4"), "--state", str(state))
    assert res.exit_code == 1 and res.stderr.startswith("refused: stale")
    cosigned4 = (tmp_path / "c4").read_bytes()
    assert open_note(cosigned4, trusted_verifiers(ledger_settings)).body.startswith(b"agent-ledger")
