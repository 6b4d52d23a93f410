"""Ed25519 signing keys: key files for every signer, and `load_key`, the one door to a key.

`load_key(spec, name)` turns a key spec (a key file path, or an RFC 7512 `pkcs11:` URI naming a
key pair in a token, see ledger.hsm) into a `Signer`; the log key, the witness key and approver
keys all come through it, so a key can move into a token by changing one setting.

Why: the log's signing key is the root of trust for every checkpoint, so
it is created with mode 0600 from the first byte (O_CREAT|O_EXCL with an
explicit mode, never chmod-after-write), fsynced, and atomically linked into
place without clobbering a concurrently created key. Loading refuses files
readable by group/other, like ssh does. Error messages name the path and the
fix, never the file content; functions that touch secret bytes drop them from
their frame before raising so tracebacks with captured locals stay clean.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import stat
from pathlib import Path

from ledger.errors import KeyUnavailable
from ledger.hsm import Pkcs11Uri, is_pkcs11_uri, open_pkcs11_signer
from ledger.note import NoteError, Signer, Verifier

__all__ = [
    "KeyFileError",
    "KeyNotFound",
    "create_secret_file",
    "fingerprint",
    "load_key",
    "load_or_create_signer",
    "load_signer",
    "pub_path",
    "read_secret_file",
    "replace_signer",
    "write_public_file",
]

_MAX_KEY_FILE = 4096


class KeyFileError(KeyUnavailable):
    """A key file is missing, unsafe, or malformed. Messages never hold key material."""


class KeyNotFound(KeyFileError):
    """A key file that must already exist does not (keys named explicitly are never created)."""


def load_key(
    spec: str | Path, name: str | None, *, create: bool = False, write_pub: bool = True
) -> Signer:
    """The signer named by `spec`: a `pkcs11:` URI (key stays in the token) or a key file.

    Why one function: the log, witness and approver keys must accept the same two kinds of
    spec with the same one-line errors (HsmError / KeyFileError, exit code KEY). A key file is
    created only when `create` is set (the zero-set-up defaults of the log and witness keys);
    otherwise a missing file is KeyNotFound. `write_pub` keeps `<file>.pub` current for a
    created-on-first-use key (an existing key named explicitly is only read, never touched).
    `name` None takes the key's own name: the file's, or the token object's label (for keys
    chosen per command, such as an administrator's `--key`).
    """
    if isinstance(spec, str) and is_pkcs11_uri(spec):
        return open_pkcs11_signer(name or Pkcs11Uri.parse(spec).object or "key", spec)
    path = Path(spec)
    if create and name is not None:
        return load_or_create_signer(path, name, write_pub=write_pub)
    try:
        return _load(path) if name is None else load_signer(path, name)
    except FileNotFoundError:
        raise KeyNotFound(f"no key file at {path}") from None


def pub_path(path: Path) -> Path:
    """Return the sibling `<path>.pub` holding the verifier key."""
    return path.with_name(path.name + ".pub")


def fingerprint(key: Signer | Verifier) -> str:
    """Return `SHA256:<unpadded base64 of sha256(public key)> <C2SP key id hex>`."""
    digest = hashlib.sha256(key.public_key).digest()
    b64 = base64.b64encode(digest).decode("ascii").rstrip("=")
    return f"SHA256:{b64} {key.key_id.hex()}"


def load_or_create_signer(path: Path, name: str, *, write_pub: bool = True) -> Signer:
    """Load the signer key at `path`, creating a fresh one (mode 0600) if absent.

    Also writes `<path>.pub` with the verifier key when it is missing or stale (unless
    `write_pub` is False, e.g. for witness keys whose public form is a cosignature vkey).
    """
    path = Path(path)
    try:
        signer = _load(path)
    except FileNotFoundError:
        signer = _create(path, name)
    if signer.name != name:
        raise KeyFileError(
            f"{path}: key is for name {signer.name!r}, expected {name!r}; "
            "move the file aside or use the matching log origin"
        )
    if write_pub:
        _write_pub(path, signer)
    return signer


def load_signer(path: Path, name: str) -> Signer:
    """Load an existing signer key (FileNotFoundError when absent): for keys that must never
    be created on first use, such as approver keys."""
    signer = _load(Path(path))
    if signer.name != name:
        raise KeyFileError(f"{path}: key is for name {signer.name!r}, expected {name!r}")
    return signer


def _check_mode(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path}: key file is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: key file mode {mode:04o} allows group/other access; "
            f"fix with: chmod 600 {path}"
        )
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise KeyFileError(f"{path}: key file is not owned by the current user; fix with chown")


def read_secret_file(path: Path) -> bytes:
    """Read a secret key file with the same checks as a signer key (0600, owner, no symlink).

    FileNotFoundError when absent; every other problem is a KeyFileError naming the path.
    Used by other key kinds (the subject key-encryption key) so all secrets share one reader.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(str(path)) from None
        if exc.errno == errno.ELOOP:
            raise KeyFileError(f"{path}: key file is a symlink; refusing to follow") from None
        raise KeyFileError(f"{path}: cannot open key file ({exc.strerror})") from None
    try:
        _check_mode(path, os.fstat(fd))
        data = os.read(fd, _MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_FILE:
        del data
        raise KeyFileError(f"{path}: key file too large")
    return data


def create_secret_file(path: Path, content: bytes) -> bool:
    """Create `path` (0600 from the first byte, fsynced, linked into place atomically).

    Returns False, writing nothing, when the file exists already (never clobbers a key).
    """
    path = Path(path)
    _ensure_dir(path.parent)
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    _write_new(tmp, content, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        os.unlink(tmp)
        return False
    except OSError:  # filesystem without hard links
        if path.exists():
            os.unlink(tmp)
            return False
        os.rename(tmp, path)
    else:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return True


def write_public_file(path: Path, content: bytes) -> None:
    """Write a public key file (0644) atomically unless it already holds `content`."""
    try:
        if path.read_bytes() == content:
            return
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read public key file ({exc.strerror})") from None
    _ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    _write_new(tmp, content, 0o644)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _load(path: Path) -> Signer:
    data = read_secret_file(path)  # one reader for every secret file: mode, owner, no symlink
    problem = ""
    signer: Signer | None = None
    try:
        signer = Signer.from_skey(data.decode("ascii"))
    except UnicodeDecodeError:
        problem = "not ASCII"
    except NoteError as exc:
        problem = str(exc)
    del data  # drop the secret before raising (tracebacks may capture locals)
    if signer is None:
        raise KeyFileError(f"{path}: invalid signer key file: {problem}")
    return signer


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _ensure_dir(directory: Path) -> None:
    if directory.exists():
        return
    _ensure_dir(directory.parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
        os.chmod(directory, 0o700)


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Create `path` with `mode` via O_CREAT|O_EXCL, write, fsync."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(path: Path, name: str) -> Signer:
    _ensure_dir(path.parent)
    try:
        signer = Signer.generate(name)
    except NoteError as exc:
        raise KeyFileError(f"{path}: cannot create key: {exc}") from None
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    _write_new(tmp, (signer.private_key_string() + "\n").encode("ascii"), 0o600)
    try:
        os.link(tmp, path)  # atomic and never clobbers a concurrently created key
    except FileExistsError:
        os.unlink(tmp)
        return _load(path)
    except OSError:  # filesystem without hard links
        if path.exists():
            os.unlink(tmp)
            return _load(path)
        os.rename(tmp, path)
    else:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return signer


def _write_pub(path: Path, signer: Signer) -> None:
    pub = pub_path(path)
    content = (signer.vkey + "\n").encode("utf-8")
    try:
        if pub.read_bytes() == content:
            return
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KeyFileError(f"{pub}: cannot read public key file ({exc.strerror})") from None
    tmp = pub.with_name(f".{pub.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    _write_new(tmp, content, 0o644)
    os.replace(tmp, pub)
    _fsync_dir(pub.parent)


def replace_signer(path: Path, signer: Signer) -> Path | None:
    """Install `signer` at `path` (0600, atomic rename); keep the old key as a retired file.

    Returns the retired key's path (`<path>.retired-<key id>`, still 0600) or None when there
    was no key. Used by `ledger keys rotate`; the public half is rewritten too.
    """
    path = Path(path)
    _ensure_dir(path.parent)
    retired: Path | None = None
    try:
        old = _load(path)
    except FileNotFoundError:
        old = None
    if old is not None:
        retired = path.with_name(f"{path.name}.retired-{old.key_id.hex()}")
        if not retired.exists():
            os.link(path, retired)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    _write_new(tmp, (signer.private_key_string() + "\n").encode("ascii"), 0o600)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    _write_pub(path, signer)
    return retired
