"""Tests for ledger.note: C2SP signed notes, key strings and checkpoints."""

from __future__ import annotations

import base64

import pytest

from ledger.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    add_signatures,
    key_id,
    open_note,
    parse_note,
)

# Example verifier key from golang.org/x/mod/sumdb/note documentation.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ROOT = bytes(range(32))


def _signer(name: str = "example.com/log", byte: int = 1) -> Signer:
    return Signer(name, bytes([byte]) * 32)


def test_key_id_matches_go_documented_example() -> None:
    raw = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    assert raw[0] == 0x01
    assert key_id("PeterNeumann", raw[1:]).hex() == "c74f20a3"
    v = Verifier.from_vkey(PETER_VKEY)
    assert v.name == "PeterNeumann"
    assert v.key_id.hex() == "c74f20a3"
    assert v.public_key == raw[1:]
    assert v.vkey == PETER_VKEY


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper hex
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # short
        "PeterNeumann+c74f20a3+AhxcdsQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # alg 2
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+x",
        "PeterNeumann+c74f20a3+!!!",
    ],
)
def test_bad_vkeys_rejected(bad: str) -> None:
    with pytest.raises(NoteError):
        Verifier.from_vkey(bad)


def test_signer_key_strings_round_trip() -> None:
    s = _signer()
    skey = s.private_key_string()
    assert skey.startswith(f"PRIVATE+KEY+example.com/log+{s.key_id.hex()}+")
    again = Signer.from_skey(skey)
    assert again.public_key == s.public_key
    assert again.key_id == s.key_id
    assert Verifier.from_vkey(s.vkey) == s.verifier
    assert s.vkey.startswith(f"example.com/log+{s.key_id.hex()}+")


def test_bad_skeys_rejected() -> None:
    s = _signer()
    skey = s.private_key_string()
    parts = skey.split("+", 4)
    other_id = "00000000" if parts[3] != "00000000" else "11111111"
    for bad in [
        "PRIVATE+KEY+x",
        skey.replace("PRIVATE", "PUBLIC"),
        "+".join([*parts[:3], other_id, parts[4]]),
        "+".join([*parts[:4], "AQ=="]),
        s.vkey,
    ]:
        with pytest.raises(NoteError) as exc:
            Signer.from_skey(bad)
        assert parts[4] not in str(exc.value)


def test_sign_and_open_round_trip() -> None:
    s = _signer()
    body = Checkpoint("example.com/log", 8, ROOT).body()
    note = s.sign_note(body)
    assert note.startswith(body + "\n\u2014 example.com/log ".encode())
    opened = open_note(note, [s.verifier])
    assert opened.body == body
    assert opened.verified_by == [s.verifier]
    assert opened.unverified_names == []
    assert Checkpoint.parse(opened.body) == Checkpoint("example.com/log", 8, ROOT)


def test_signature_is_deterministic_ed25519_over_body() -> None:
    s = _signer()
    body = b"hello\n"
    line = s.signature_line(body)
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == s.key_id
    assert len(raw) == 68
    assert s.verifier.verify(body, raw[4:])
    assert s.sign_note(body) == s.sign_note(body)


def test_wrong_key_fails() -> None:
    a, b = _signer("log", 1), _signer("log", 2)
    note = a.sign_note(b"text\n")
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        open_note(note, [b.verifier])
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        open_note(note, [])


def test_tampered_body_fails() -> None:
    s = _signer()
    body = Checkpoint("example.com/log", 8, ROOT).body()
    note = s.sign_note(body)
    tampered = note.replace(b"\n8\n", b"\n9\n", 1)
    assert tampered != note
    with pytest.raises(NoteError, match="invalid signature by known key"):
        open_note(tampered, [s.verifier])


def test_known_bad_signature_poisons_note_even_with_good_one() -> None:
    good, other = _signer("log", 1), _signer("witness", 3)
    body = b"text\n"
    note = good.sign_note(body)
    forged = other.signature_line(b"different\n")  # right key, wrong message
    combined = add_signatures(note, [forged])
    with pytest.raises(NoteError, match="invalid signature by known key 'witness'"):
        open_note(combined, [good.verifier, other.verifier])
    # Without trusting `other`, its line is just an unknown signature.
    opened = open_note(combined, [good.verifier])
    assert opened.unverified_names == ["witness"]


def test_unknown_extra_signature_ignored_and_cosignatures_kept() -> None:
    log, w1, w2 = _signer("log", 1), _signer("w1", 4), _signer("w2", 5)
    body = b"origin\n1\n" + base64.b64encode(ROOT) + b"\n"
    note = log.sign_note(body)
    note = add_signatures(note, [w1.signature_line(body)])
    note = add_signatures(note, [w2.signature_line(body).encode(), w1.signature_line(body)])
    _, sigs = parse_note(note)
    assert [s.name for s in sigs] == ["log", "w1", "w2"]  # duplicate w1 skipped
    opened = open_note(note, [log.verifier, w2.verifier])
    assert opened.verified_by == [log.verifier, w2.verifier]
    assert opened.unverified_names == ["w1"]
    assert len(opened.signatures) == 3
    opened = open_note(note, [w1.verifier])
    assert opened.verified_by == [w1.verifier]


def test_repeated_known_key_with_bad_second_signature_rejected() -> None:
    s = _signer()
    note = s.sign_note(b"x\n")
    bad_line = s.signature_line(b"y\n").encode()
    with pytest.raises(NoteError, match="invalid signature by known key"):
        open_note(note + bad_line, [s.verifier])


def test_duplicate_lines_tolerated() -> None:
    s = _signer()
    note = s.sign_note(b"x\n")
    line = note.split(b"\n\n", 1)[1]
    opened = open_note(note + line, [s.verifier])
    assert opened.verified_by == [s.verifier]


@pytest.mark.parametrize(
    "note",
    [
        b"text\n",  # no signatures
        b"text\n\n",  # empty signature block
        b"text\n\n\xe2\x80\x94 log AAAAAAA=",  # no final newline
        b"text\n\n- log AAAAAAAA\n",  # ascii dash
        b"text\n\n\xe2\x80\x94 log\n",  # no signature
        b"text\n\n\xe2\x80\x94 log !!!!\n",  # bad base64
        b"text\n\n\xe2\x80\x94 log AAAA\n",  # too short (3 bytes)
        b"text\n\n\xe2\x80\x94 lo+g AAAAAAAA\n",  # '+' in name
        b"te\x01xt\n\n\xe2\x80\x94 log AAAAAAAA\n",  # control char
        b"t\xffext\n\n\xe2\x80\x94 log AAAAAAAA\n",  # invalid UTF-8
        b"text\r\n\n\xe2\x80\x94 log AAAAAAAA\n",  # CR
    ],
)
def test_malformed_notes_rejected(note: bytes) -> None:
    s = _signer("log")
    with pytest.raises(NoteError) as exc:
        open_note(note, [s.verifier])
    assert "\n" not in str(exc.value)


def test_too_many_signatures() -> None:
    s = _signer("log")
    body = b"x\n"
    line = s.signature_line(body).encode()
    unknown = [f"\u2014 k{i} AAAAAAAA\n".encode() for i in range(100)]
    with pytest.raises(NoteError, match="more than 100"):
        open_note(body + b"\n" + line + b"".join(unknown), [s.verifier])
    opened = open_note(body + b"\n" + line + b"".join(unknown[:99]), [s.verifier])
    assert len(opened.unverified_names) == 99
    with pytest.raises(NoteError, match="too many"):
        add_signatures(s.sign_note(body), [u.decode() for u in unknown])


def test_sign_rejects_bad_bodies() -> None:
    s = _signer()
    for body in (b"no newline", b"\xff\n", b"a\x00b\n", b""):
        with pytest.raises(NoteError):
            s.sign_note(body)


def test_add_signatures_rejects_garbage() -> None:
    s = _signer()
    note = s.sign_note(b"x\n")
    for bad in ("not a sig", "\u2014 a AAAAAAAA\n\u2014 b AAAAAAAA", "\u2014 a b c"):
        with pytest.raises(NoteError):
            add_signatures(note, [bad])


def test_signer_validation() -> None:
    with pytest.raises(NoteError):
        Signer("bad name", b"\x01" * 32)
    with pytest.raises(NoteError):
        Signer("ok", b"\x01" * 31)
    with pytest.raises(NoteError):
        Signer("a+b", b"\x01" * 32)
    s = Signer.generate("fresh")
    assert repr(s) == f"Signer(name='fresh', key_id={s.key_id.hex()})"
    assert str(s) == repr(s)
    with pytest.raises(TypeError):
        import copy

        copy.copy(s)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_body_format() -> None:
    cp = Checkpoint("example.com/log", 12345, ROOT, ("ext one", "ext two"))
    b64 = base64.b64encode(ROOT).decode()
    assert cp.body() == f"example.com/log\n12345\n{b64}\next one\next two\n".encode()
    assert Checkpoint.parse(cp.body()) == cp
    empty = Checkpoint("o", 0, ROOT)
    assert Checkpoint.parse(empty.body()) == empty


@pytest.mark.parametrize(
    "body",
    [
        b"origin\n012\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # leading zero
        b"origin\n+12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        b"origin\n1 2\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        b"origin\n\xd9\xa1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # Arabic digit
        b"origin\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        b"origin\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        b"origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",  # 31 bytes
        b"origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",  # no padding
        b"origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # no final newline
        b"\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # empty origin
        b"origin\n12\n",
        b"origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",  # empty extension
    ],
)
def test_checkpoint_parse_strict(body: bytes) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(body)


def test_checkpoint_constructor_validation() -> None:
    with pytest.raises(NoteError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("o", True, ROOT)
    with pytest.raises(NoteError):
        Checkpoint("o", 1, ROOT[:31])
    with pytest.raises(NoteError):
        Checkpoint("o", 1, ROOT, ("",))


# Documented example from golang.org/x/mod/sumdb/note (public test key, not a secret).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
).encode()


def test_go_documented_signed_note_interoperates() -> None:
    verifier = Verifier.from_vkey(PETER_VKEY)
    opened = open_note(PETER_NOTE, [verifier])
    assert opened.verified_by == [verifier]
    signer = Signer.from_skey(PETER_SKEY)
    assert signer.vkey == PETER_VKEY
    assert signer.private_key_string() == PETER_SKEY
    assert signer.sign_note(opened.body) == PETER_NOTE  # Ed25519 is deterministic
