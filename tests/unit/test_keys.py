"""Tests for ledger.keys: key-file permissions, round trips, and secret hygiene."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import sys
import traceback
from pathlib import Path

import pytest

from ledger.errors import ExitCode
from ledger.keys import (
    KeyFileError,
    KeyNotFound,
    fingerprint,
    load_key,
    load_or_create_signer,
    pub_path,
)
from ledger.note import NoteError, Signer, Verifier, open_note

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _seed_forms(signer: Signer) -> list[str]:
    skey = signer.private_key_string()
    b64 = skey.split("+", 4)[4]
    seed = base64.b64decode(b64)[1:]
    return [
        seed.hex(),
        b64,
        base64.b64encode(seed).decode().rstrip("="),
        base64.urlsafe_b64encode(seed).decode().rstrip("="),
        repr(seed)[2:-1],
        skey,
    ]


def test_create_writes_0600_and_pub(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "nested" / "log.key"
    signer = load_or_create_signer(path, "example.com/log")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    content = path.read_text()
    assert content == signer.private_key_string() + "\n"
    assert pub_path(path).read_text() == signer.vkey + "\n"
    assert Verifier.from_vkey(pub_path(path).read_text()) == signer.verifier
    assert not [p for p in path.parent.iterdir() if ".tmp-" in p.name]


def test_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    first = load_or_create_signer(path, "log")
    second = load_or_create_signer(path, "log")
    assert second.public_key == first.public_key
    assert second.key_id == first.key_id
    note = second.sign_note(b"hello\n")
    assert open_note(note, [first.verifier]).verified_by == [first.verifier]


def test_pub_file_is_refreshed(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    signer = load_or_create_signer(path, "log")
    pub_path(path).unlink()
    load_or_create_signer(path, "log")
    assert pub_path(path).read_text() == signer.vkey + "\n"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_group_or_world_readable_key_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.key"
    signer = load_or_create_signer(path, "log")
    os.chmod(path, mode)
    with pytest.raises(KeyFileError) as exc:
        load_or_create_signer(path, "log")
    msg = str(exc.value)
    assert str(path) in msg
    assert f"chmod 600 {path}" in msg
    for form in _seed_forms(signer):
        assert form not in msg


def test_symlink_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.key"
    load_or_create_signer(real, "log")
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(KeyFileError, match="symlink"):
        load_or_create_signer(link, "log")


def test_wrong_name_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    load_or_create_signer(path, "log-a")
    with pytest.raises(KeyFileError, match="expected 'log-b'"):
        load_or_create_signer(path, "log-b")


def test_corrupt_key_file_message_has_no_content(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    signer = load_or_create_signer(path, "log")
    skey = signer.private_key_string()
    parts = skey.split("+", 4)
    parts[3] = "00000000" if parts[3] != "00000000" else "11111111"
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, ("+".join(parts) + "\n").encode())
    os.close(fd)
    with pytest.raises(KeyFileError) as exc:
        load_or_create_signer(path, "log")
    assert exc.value.__context__ is None
    assert "invalid signer key file" in str(exc.value)
    library = _library_locals(exc.value)
    for form in _seed_forms(signer):
        assert form not in str(exc.value)
        assert form not in library
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(KeyFileError, match="not ASCII"):
        load_or_create_signer(path, "log")


def test_fingerprint_format(tmp_path: Path) -> None:
    signer = Signer("log", b"\x07" * 32)
    want = base64.b64encode(hashlib.sha256(signer.public_key).digest()).decode().rstrip("=")
    fp = fingerprint(signer)
    assert fp == f"SHA256:{want} {signer.key_id.hex()}"
    assert fingerprint(signer.verifier) == fp
    assert "=" not in fp


def _explode(signer: Signer) -> None:
    holder = {"signer": signer}  # noqa: F841 - a local that holds the signer
    raise RuntimeError(f"boom while using {signer}")


def test_secrets_absent_from_repr_and_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    signer = load_or_create_signer(path, "log")
    # The test frame itself must not hold secrets while the traceback is captured.
    try:
        _explode(signer)
    except RuntimeError as exc:
        plain = traceback.format_exc()
        with_locals = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
    forms = _seed_forms(signer)
    for text in (repr(signer), str(signer), repr(signer.verifier), fingerprint(signer)):
        for form in forms:
            assert form not in text
    for form in forms:
        assert form not in plain
        assert form not in with_locals
    assert "Signer(name='log'" in with_locals


def _library_locals(exc: BaseException) -> str:
    """Render locals of every ledger/ frame in the traceback (capture_locals=True)."""
    tbe = traceback.TracebackException.from_exception(exc, capture_locals=True)
    out = []
    for frame in tbe.stack:
        if f"{os.sep}ledger{os.sep}" in frame.filename:
            out.append(repr(frame.locals))
    assert out, "expected at least one library frame"
    return "".join(out)


def test_failed_construction_tracebacks_hold_no_seed() -> None:
    seed = b"\x42" * 32
    forms = [seed.hex(), base64.b64encode(seed).decode(), repr(seed)[2:-1]]
    for name in ("bad name", "a+b"):
        with pytest.raises(NoteError) as exc:
            Signer(name, seed)
        library = _library_locals(exc.value)
        for form in forms:
            assert form not in library
    good = Signer("ok", seed)
    skey = good.private_key_string()
    parts = skey.split("+", 4)
    parts[3] = "00000000" if parts[3] != "00000000" else "11111111"
    with pytest.raises(NoteError) as exc2:
        Signer.from_skey("+".join(parts))
    library = _library_locals(exc2.value)
    for form in [*forms, parts[4]]:
        assert form not in library


def test_load_key_creates_only_when_asked(tmp_path: Path) -> None:
    """A key named explicitly is only loaded: a missing file is one line, exit KEY, no file."""
    path = tmp_path / "keys" / "w.key"
    with pytest.raises(KeyNotFound) as missing:
        load_key(str(path), "w")
    assert str(missing.value) == f"no key file at {path}"
    assert missing.value.exit_code == ExitCode.KEY
    assert not path.exists()
    made = load_key(path, "w", create=True, write_pub=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not pub_path(path).exists()
    assert load_key(str(path), "w").vkey == made.vkey
    with pytest.raises(KeyFileError, match="expected 'x'"):
        load_key(path, "x")  # a file key signs only under its own name
