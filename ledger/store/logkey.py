"""The log key and the root of trust: a log key is created once, for an empty log, never again.

Why: the log key signs every checkpoint, and `ledger verify` must know which key that is without
asking the host that holds it (the host may be hostile). So the first log key's public half is
written once, at initialisation, as the root of trust `keys/root.pub` (O_EXCL link: never
replaced), and verification starts from it (plus `key.rotated`/`key.announced` events endorsed by
it, ledger.keyring). A missing key file for a log that already has signed checkpoints (or a root
of trust) is an error naming the file and the fix, never a silent new key: a new key would sign
a history nobody can tell from a rewritten one. Nothing is lost: events wait in intake until the
key is restored.

A ledger initialised before the root of trust existed gets `keys/root.pub` from its current key
the first time the key is loaded (trust on first use after the upgrade; `ledger keys rotate`
already wrote it for rotated ledgers). Wherever a connection is at hand (sequencing, serve,
rotation) the same vkey is recorded once in the database too (ledger.store.trustrow), so the
files and the database each hold the root and neither alone can swap it.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
from pathlib import Path

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import KeyUnavailable
from ledger.hsm import is_pkcs11_uri
from ledger.keys import KeyFileError, load_key, write_public_file
from ledger.note import SIG_PREFIX, Signer, key_id
from ledger.store.trustrow import record_trust_root

__all__ = [
    "LogKeyMissing",
    "log_signer",
    "pkcs11_env",
    "sign_checkpoint",
    "trust_root_path",
    "write_trust_root",
]


class LogKeyMissing(KeyUnavailable):
    """The log key file is gone but the log has history: restore it, never replace it."""


def trust_root_path(settings: Settings) -> Path:
    """`keys/root.pub`: the first log key's vkey, the root verification starts from."""
    return settings.keys_dir / "root.pub"


def write_trust_root(settings: Settings, signer: Signer) -> bool:
    """Write the root of trust unless one exists (hard link of a temp file: never clobbers).

    Returns True when this call wrote it. A differing existing root is left alone: a later key
    is trusted only through an endorsed key event in the log, never by replacing this file.
    """
    path = trust_root_path(settings)
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    write_public_file(tmp, (signer.vkey + "\n").encode("utf-8"))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _has_history(conn: psycopg.Connection | None) -> bool:
    if conn is None:
        return False
    try:
        with conn.transaction():
            row = conn.execute(query("log_has_checkpoints")).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return False  # a confined writer cannot see the log; it never sequences either (0010)
    return bool(row and row[0])


def _refuse_new_key(settings: Settings, conn: psycopg.Connection | None) -> None:
    """Raise LogKeyMissing when creating a log key now would fork the trust of existing history."""
    root = trust_root_path(settings)
    if root.exists() or _has_history(conn):
        raise LogKeyMissing(
            f"log key {settings.log_key_path} is missing but the log already has signed "
            f"checkpoints (root of trust {root}): restore the key file from backup; a new key "
            "is never created for a log with history (to change keys, `ledger keys rotate` "
            "with the old key in place); pending events stay in intake"
        )


@functools.lru_cache(maxsize=16)
def _signer_for(path: Path, name: str, _identity: tuple[int, int] | None) -> Signer:
    return load_key(path, name, create=True)


def log_signer(settings: Settings, conn: psycopg.Connection | None = None) -> Signer:
    """The log key (created only for an empty log, as a 0600 file beside the data directory;
    the subject key-encryption key of ledger.kek and the root of trust are created with it).

    Pass `conn` wherever one is at hand: a log whose checkpoints exist never gets a new key even
    when `keys/root.pub` is gone too. Cached by the file's identity (inode, mtime), so a
    long-running sequencer picks up a key replaced by `ledger keys rotate` instead of signing
    with the retired one. With `LEDGER_LOG_KEY=pkcs11:...` (or settings.extra['log_key']) the
    key lives in a PKCS#11 token instead (ledger.hsm), one session kept per URI.
    """
    spec = settings.extra.get("log_key") or os.environ.get("LEDGER_LOG_KEY", "")
    if spec.strip():
        if not is_pkcs11_uri(spec):
            raise KeyUnavailable("LEDGER_LOG_KEY must be a pkcs11: URI (RFC 7512) or unset")
        return _token_signer(spec, settings.origin_prefix, pkcs11_env())
    path = settings.log_key_path
    try:
        st = path.stat()
        identity: tuple[int, int] | None = (st.st_ino, st.st_mtime_ns)
    except FileNotFoundError:
        identity = None
        _refuse_new_key(settings, conn)
    try:
        signer = _signer_for(path, settings.origin_prefix, identity)
    except KeyFileError as exc:
        raise KeyUnavailable(str(exc)) from None
    if identity is None:
        _signer_for.cache_clear()
        from ledger.kek import ensure_first_kek

        ensure_first_kek(settings)  # the first log key of an empty ledger brings the file KEK
    write_trust_root(settings, signer)
    if conn is not None:
        record_trust_root(conn, settings.origin_prefix, _root_vkey(settings, signer))
    return signer


def _root_vkey(settings: Settings, signer: Signer) -> str:
    """The vkey in `keys/root.pub` (the first log key), or the signer's when it is unreadable."""
    try:
        text = trust_root_path(settings).read_text(encoding="utf-8")
    except OSError:
        return signer.vkey
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return lines[0] if lines else signer.vkey


def sign_checkpoint(signer: Signer, origin: str, body: bytes) -> bytes:
    """The signed checkpoint note, its key named after the origin (C2SP tlog-checkpoint).

    The same Ed25519 key as `signer` (file or token), only the key name, and so the key id, is
    the origin's; verifiers trusting the log's vkey accept it (ledger.note.trusted_names), and
    checkpoints signed under the legacy key name keep verifying.
    """
    sig = signer.sign(body)
    line = f"{SIG_PREFIX}{origin} {_b64(key_id(origin, signer.public_key) + sig)}\n"
    return body + b"\n" + line.encode("utf-8")


def pkcs11_env() -> tuple[str, str]:
    """The environment a token signer depends on (part of its cache key)."""
    return os.environ.get("LEDGER_PKCS11_MODULE", ""), os.environ.get("LEDGER_PKCS11_PIN", "")


@functools.lru_cache(maxsize=4)
def _token_signer(spec: str, name: str, _env: tuple[str, str]) -> Signer:
    return load_key(spec, name)
