"""The witness key in a PKCS#11 token (SoftHSM2): cosignatures made inside the token verify with
the ordinary cosignature verifier built from the token key's public half; no key file appears;
a wrong PIN, a missing object or a missing key file is one line, exit 4, and nothing is cosigned."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.errors import ExitCode
from ledger.note import Checkpoint, open_note
from ledger.store.sequencer import log_signer
from ledger.verify import verify_ledger
from ledger.witness import CosignatureVerifier, Witness
from tests.hsmkit import PIN, TOKEN, SoftHsm, needs_softhsm
from tests.integrity.conftest import Cli
from tests.ledgerkit import append, chained_run

pytestmark = needs_softhsm

NAME = "agent-ledger-witness"


@pytest.fixture
def pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The PIN from the environment (LEDGER_PKCS11_PIN); the log key stays a file key."""
    monkeypatch.setenv("LEDGER_PKCS11_PIN", PIN)
    monkeypatch.delenv("LEDGER_LOG_KEY", raising=False)


@pytest.mark.usefixtures("pin")
def test_cosignature_made_in_the_token_verifies_with_the_file_verifier(
    softhsm: SoftHsm, ledger_settings: Settings, tmp_path: Path
) -> None:
    signer = log_signer(ledger_settings)  # a file key: only the witness key is in the token
    witness = Witness(tmp_path / "w", key=softhsm.uri("witness"))
    assert not (tmp_path / "w" / "witness.key").exists()
    trusted = CosignatureVerifier(NAME, softhsm.public_key("witness"))
    assert witness.verifier.vkey == trusted.vkey
    assert (tmp_path / "w" / "witness.vkey").read_text().strip() == trusted.vkey
    witness.add_log(ledger_settings.origin(), [signer.vkey])
    body = Checkpoint(ledger_settings.origin(), 1, b"\x01" * 32).body()
    cosigned = witness.cosign(signer.sign_note(body), [], now=1700000000)
    assert trusted.timestamp(cosigned) == 1700000000
    assert open_note(cosigned, [signer.verifier]).body == body
    # a cosignature line under the same name by another key is not the token's
    other = Witness(tmp_path / "file-witness")
    other.add_log(ledger_settings.origin(), [signer.vkey])
    forged = other.cosign(signer.sign_note(body), [], now=1700000000)
    with pytest.raises(ValueError, match="cosignature by witness"):
        trusted.timestamp(forged)


@pytest.mark.usefixtures("pin")
def test_sequencer_cosigns_through_the_token_witness(
    softhsm: SoftHsm,
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wdir = tmp_path / "witness"
    monkeypatch.setenv("LEDGER_WITNESS_KEY", softhsm.uri("witness"))
    settings = dataclasses.replace(ledger_settings, extra={"witness_dir": str(wdir)})
    for _ in range(2):
        append(ledger_conn, settings, chained_run(2))
    assert not (wdir / "witness.key").exists()
    trusted = CosignatureVerifier(NAME, softhsm.public_key("witness"))
    report = verify_ledger(ledger_conn, settings, witnesses=[trusted])
    assert (report.status, report.witnessed) == ("ok", {settings.origin(): 12})


def test_witness_cli_signs_in_the_token_and_a_wrong_pin_is_one_line(
    softhsm: SoftHsm,
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    tmp_path: Path,
    icli: Cli,
) -> None:
    """Each command is a fresh process: PKCS#11 login state is per process, so the wrong PIN
    is really checked by the token."""
    state, uri = tmp_path / "wstate", softhsm.uri("witness")
    good = {"LEDGER_PKCS11_PIN": PIN, "LEDGER_LOG_KEY": ""}
    append(ledger_conn, ledger_settings, chained_run(1))
    res = icli("witness", "init", "--state", str(state), "--key", uri, env=good)
    assert res.exit_code == 0, res.stderr
    trusted = CosignatureVerifier(NAME, softhsm.public_key("witness"))
    assert res.stdout.strip() == trusted.vkey
    pub = ledger_settings.log_key_path.with_name("log.key.pub")
    add_log = ("witness", "add-log", ledger_settings.origin(), str(pub), "--state", str(state))
    res = icli(*add_log, env={**good, "LEDGER_WITNESS_KEY": uri})
    assert res.exit_code == 0, res.stderr
    (tmp_path / "cp").write_text(icli("checkpoint").stdout)
    cosign = ("witness", "cosign", str(tmp_path / "cp"), "--state", str(state))
    bad_pin = {"LEDGER_LOG_KEY": "", "LEDGER_WITNESS_KEY": f"{uri}?pin-value=9999"}
    res = icli(*cosign, env=bad_pin)
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == f"error: wrong PIN for PKCS#11 token {TOKEN!r}"
    assert not (state / "state.json").exists()  # nothing was cosigned
    res = icli(*cosign, "--key", f"pkcs11:token={TOKEN};object=nope", env=good)
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == (
        f"error: no Ed25519 key pair labelled 'nope' in PKCS#11 token {TOKEN!r}"
    )
    res = icli(*cosign, "--key", str(tmp_path / "missing.key"), env=good)
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == f"error: no key file at {tmp_path / 'missing.key'}"
    assert not (state / "state.json").exists() and not (state / "witness.key").exists()
    res = icli(*cosign, "--key", uri, env=good)
    assert res.exit_code == 0, res.stderr
    assert trusted.timestamp(res.stdout.encode()) > 0
