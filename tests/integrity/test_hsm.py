"""The log key in a PKCS#11 token (SoftHSM2): checkpoints signed in the token verify with the
token key's public half; a tampered note fails; every misconfiguration is one line, exit 4."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.errors import ExitCode
from ledger.hsm import DEFAULT_MODULE, HsmError, Pkcs11Signer, Pkcs11Uri, open_pkcs11_signer
from ledger.note import Signer, Verifier, open_note
from ledger.store.sequencer import log_signer
from ledger.verify import verify_ledger
from tests.hsmkit import PIN, TOKEN, SoftHsm, needs_softhsm
from tests.integrity.conftest import Cli
from tests.ledgerkit import append, attacker, chained_run

OBJECT = "log"

pytestmark = needs_softhsm


@dataclass(frozen=True)
class Token:
    """The log key pair generated inside the test process's SoftHSM2 token."""

    uri: str
    public_key: bytes
    conf: Path


@pytest.fixture
def token(softhsm: SoftHsm) -> Token:
    """The token's "log" key pair (generated in the token on first use)."""
    return Token(softhsm.uri(OBJECT), softhsm.public_key(OBJECT), softhsm.conf)


@pytest.fixture
def in_token(token: Token, monkeypatch: pytest.MonkeyPatch) -> Token:
    """LEDGER_LOG_KEY names the token key; the PIN comes from LEDGER_PKCS11_PIN."""
    monkeypatch.setenv("LEDGER_LOG_KEY", token.uri)
    monkeypatch.setenv("LEDGER_PKCS11_PIN", PIN)
    return token


def test_checkpoints_signed_in_the_token_verify_with_its_public_key(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, in_token: Token, icli: Cli
) -> None:
    append(ledger_conn, ledger_settings, chained_run(2))
    signer = log_signer(ledger_settings)
    assert isinstance(signer, Pkcs11Signer)
    assert not ledger_settings.log_key_path.exists()  # no key file was created
    # Same C2SP key id as a file verifier built from the token's public key.
    trusted = Verifier.from_public_key(ledger_settings.origin_prefix, in_token.public_key)
    assert (signer.key_id, signer.public_key) == (trusted.key_id, trusted.public_key)
    report = verify_ledger(ledger_conn, ledger_settings, verifiers=[trusted])
    assert (report.status, report.events_verified, report.checkpoints_verified) == ("ok", 6, 1)
    note = ledger_conn.execute("SELECT note FROM ledger_checkpoints").fetchone()
    assert note is not None
    assert open_note(note[0].encode(), [trusted]).verified_by == [trusted]
    # Someone else's key with the same name is not trusted.
    other = Signer.generate(ledger_settings.origin_prefix).verifier
    assert verify_ledger(ledger_conn, ledger_settings, verifiers=[other]).status == "invalid"
    # The CLI with the token key's public half as the trusted key, no key file anywhere.
    trust = ledger_settings.home.parent / "hsm.pub"
    trust.write_text(trusted.vkey + "\n")
    res = icli("verify", "--trust", str(trust))
    assert res.exit_code == 0, res.stderr
    shown = icli("keys", "show", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert trusted.vkey in shown.stdout
    assert f"pkcs11 token '{TOKEN}'" in shown.stdout
    # Rotation would write a key file: refused while the key lives in the token.
    rotated = icli("keys", "rotate")
    assert rotated.exit_code == ExitCode.USAGE
    assert "lives in PKCS#11 token 'ledger-test'" in rotated.stderr


def test_tampered_note_signed_in_the_token_fails(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, in_token: Token
) -> None:
    append(ledger_conn, ledger_settings, chained_run(2))
    trusted = Verifier.from_public_key(ledger_settings.origin_prefix, in_token.public_key)
    row = ledger_conn.execute("SELECT tree_size, note FROM ledger_checkpoints").fetchone()
    assert row is not None
    size, note = row
    lines = note.split("\n")
    lines[1] = str(size + 1)  # claim a bigger tree under the token's signature
    with attacker(ledger_conn):
        ledger_conn.execute("UPDATE ledger_checkpoints SET note = %s", ("\n".join(lines),))
    report = verify_ledger(ledger_conn, ledger_settings, verifiers=[trusted])
    assert report.status == "invalid"
    assert "invalid signature by known key" in (report.reason or "")


@pytest.mark.parametrize(
    ("uri", "env", "message"),
    [
        ("pkcs11:object=log", {}, "needs token=<label> and object=<label>"),
        ("pkcs11:token=t;object=log;type=public", {}, "type must be 'private'"),
        (
            f"pkcs11:token={TOKEN};object=log?module-path=/nonexistent/libx.so",
            {},
            "PKCS#11 module not found: /nonexistent/libx.so",
        ),
        (f"pkcs11:token=nope;object=log?pin-value={PIN}", {}, "token 'nope' not found"),
        (
            f"pkcs11:token={TOKEN};object=missing",
            {"LEDGER_PKCS11_PIN": PIN},
            "no Ed25519 key pair labelled 'missing'",
        ),
        (f"pkcs11:token={TOKEN};object=log", {"LEDGER_PKCS11_PIN": ""}, "has no PIN"),
    ],
)
def test_misconfigured_token_key_is_one_line(
    token: Token, monkeypatch: pytest.MonkeyPatch, uri: str, env: dict[str, str], message: str
) -> None:
    monkeypatch.delenv("LEDGER_PKCS11_PIN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(HsmError) as caught:
        open_pkcs11_signer("agent-ledger.local", uri)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text and PIN not in text
    assert caught.value.exit_code == ExitCode.KEY


def test_cli_wrong_pin_exits_4_with_one_line(token: Token, icli: Cli) -> None:
    """In a fresh process (login state is per process: this one may be logged in already)."""
    res = icli(
        "keys",
        "show",
        env={"LEDGER_LOG_KEY": f"{token.uri}?pin-value=9999", "SOFTHSM2_CONF": str(token.conf)},
    )
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == f"error: wrong PIN for PKCS#11 token {TOKEN!r}"


def test_token_key_cannot_be_exported_and_uri_hides_the_pin(in_token: Token) -> None:
    signer = open_pkcs11_signer("agent-ledger.local", in_token.uri)
    with pytest.raises(HsmError, match="cannot be exported"):
        signer.private_key_string()
    assert PIN not in repr(Pkcs11Uri.parse(f"{in_token.uri}?pin-value={PIN}"))


KEK_OBJECT = "subject-kek"


@pytest.fixture(scope="module")
def rsa_kek(softhsm: SoftHsm) -> str:
    """An RSA-2048 pair generated inside the token for the subject KEK; its pkcs11: URI."""
    import pkcs11
    from pkcs11 import Attribute, KeyType, MechanismFlag

    lib_token = pkcs11.lib(DEFAULT_MODULE).get_token(token_label=TOKEN)
    try:
        session = lib_token.open(user_pin=PIN, rw=True)
    except pkcs11.exceptions.UserAlreadyLoggedIn:  # login is per process: an earlier test did
        session = lib_token.open(rw=True)
    with session:
        session.generate_keypair(
            KeyType.RSA,
            2048,
            store=True,
            label=KEK_OBJECT,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            public_template={Attribute.PRIVATE: False},  # writers read it without the PIN
        )
    return f"pkcs11:token={TOKEN};object={KEK_OBJECT}"


def test_subject_keys_wrapped_by_a_token_kek_round_trip(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    token: Token,
    rsa_kek: str,
    monkeypatch: pytest.MonkeyPatch,
    icli: Cli,
) -> None:
    """Wrap in software with the token's RSA public key, unwrap inside the token (OAEP)."""
    from ledger.kek import kek_path, open_kek
    from tests.integrity.test_kek import _dump, _opens, _windows
    from tests.integrity.test_privacy import private_run

    monkeypatch.setenv("LEDGER_SUBJECT_KEK", rsa_kek)
    monkeypatch.setenv("LEDGER_PKCS11_PIN", PIN)
    private_run(ledger_conn, ledger_settings, "alice")
    rows = ledger_conn.execute(
        "SELECT scheme, key, length(wrapped_key) FROM ledger_subject_keys"
    ).fetchall()
    assert rows == [("pkcs11-rsa-oaep", None, 256)]
    assert not kek_path(ledger_settings).exists()  # no file KEK next to the first log key
    keys, ciphertexts = _dump(ledger_conn)
    assert not [c for value in keys for w in _windows(value) for c in ciphertexts if _opens(w, c)]
    assert open_kek(ledger_settings).scheme == "pkcs11-rsa-oaep"
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.payloads_verified) == ("ok", 2)
    env = {"LEDGER_SUBJECT_KEK": rsa_kek, "SOFTHSM2_CONF": str(token.conf)}
    res = icli("verify", env={**env, "LEDGER_PKCS11_PIN": PIN})
    assert res.exit_code == 0, res.stderr
    shown = icli("keys", "kek", env={**env, "LEDGER_PKCS11_PIN": PIN})
    assert shown.exit_code == 0, shown.stderr
    assert "exists: pkcs11 token" in shown.stdout and "pkcs11-rsa-oaep" in shown.stdout
    # Without the token, the dump and the key files open nothing: one line, exit 4.
    res = icli("verify", env={"LEDGER_SUBJECT_KEK": "", "SOFTHSM2_CONF": str(token.conf)})
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.startswith(
        f"error: no subject key-encryption key at {kek_path(ledger_settings)}"
    )
    res = icli("verify", env={**env, "LEDGER_PKCS11_PIN": "9999"})
    assert res.exit_code == ExitCode.KEY
    assert res.stderr.strip() == f"error: wrong PIN for PKCS#11 token {TOKEN!r}"


def test_a_writer_without_the_pin_wraps_for_the_token_kek(
    ledger_settings: Settings, token: Token, rsa_kek: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh writer process with no PIN (login is per process) wraps a subject key with the
    token's public key; only the token, logged in, unwraps it."""
    import sys

    from ledger.kek import open_kek

    subject_private = os.urandom(32)
    code = (
        "import sys; from pathlib import Path; from ledger.config import Settings; "
        "from ledger.kek import kek_public; "
        "k = kek_public(Settings(home=Path(sys.argv[1]))); "
        "print(k.scheme, k.kek_id, k.wrap(bytes.fromhex(sys.argv[2])).hex())"
    )
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_PKCS11_PIN"}
    env |= {"LEDGER_SUBJECT_KEK": rsa_kek, "SOFTHSM2_CONF": str(token.conf)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(ledger_settings.home), subject_private.hex()],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    monkeypatch.setenv("LEDGER_SUBJECT_KEK", rsa_kek)
    monkeypatch.setenv("LEDGER_PKCS11_PIN", PIN)
    kek = open_kek(ledger_settings)
    assert out[:2] == ["pkcs11-rsa-oaep", kek.kek_id]
    assert kek.unwrap(bytes.fromhex(out[2])) == subject_private
    # A public key it cannot read without login: one HsmError line naming the fix.
    missing = rsa_kek.replace(KEK_OBJECT, "no-such-kek")
    res = subprocess.run(
        [sys.executable, "-c", code, str(ledger_settings.home), subject_private.hex()],
        env={**env, "LEDGER_SUBJECT_KEK": missing},
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode != 0
    assert (
        "HsmError: no RSA public key labelled 'no-such-kek' readable without login in PKCS#11 "
        f"token {TOKEN!r}: generate it with CKA_PRIVATE false, or set LEDGER_PKCS11_PIN"
    ) in res.stderr
