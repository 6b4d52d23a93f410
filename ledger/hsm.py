"""Signing keys in a PKCS#11 token (an HSM, or SoftHSM2 for tests and small sites).

Why: a key file is readable by whoever owns the process; a key inside a token can sign but never
leave it, so a stolen host cannot walk away with the root of trust of every checkpoint. The
signer is chosen by an RFC 7512 `pkcs11:` URI (`LEDGER_LOG_KEY`, `LEDGER_WITNESS_KEY`,
`LEDGER_APPROVER_KEY`; docs/identity.md), always through `ledger.keys.load_key`; it is a
`Signer` whose `sign` asks the token for an Ed25519 signature (CKM_EDDSA), so the note format, the
key name and the C2SP key id (derived from the public key read out of the token) are exactly
those of a file key and the existing `Verifier` accepts its checkpoints.

python-pkcs11 is the optional `hsm` extra and is imported only when a `pkcs11:` URI is used.
Every failure (bad URI, missing module, wrong PIN, missing key) is one `HsmError` line with exit
code KEY; no message ever contains the PIN.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import unquote

from ledger.errors import KeyUnavailable
from ledger.note import Signer, Verifier, is_valid_name, key_id

if TYPE_CHECKING:
    from pkcs11 import Session
    from pkcs11.types import SignMixin

__all__ = [
    "DEFAULT_MODULE",
    "HsmError",
    "Pkcs11Signer",
    "Pkcs11Uri",
    "is_pkcs11_uri",
    "open_pkcs11_signer",
    "open_token_session",
]

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_SCHEME = "pkcs11:"
_PROBE = b"agent-ledger pkcs11 key check\n"


class HsmError(KeyUnavailable):
    """The PKCS#11 key cannot be used: bad URI, missing module or token, wrong PIN, no key."""


def _fail(message: str) -> NoReturn:
    raise HsmError(message)


def is_pkcs11_uri(spec: str) -> bool:
    """True when a key setting names a PKCS#11 object rather than a key file."""
    return spec.strip().lower().startswith(_SCHEME)


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI the ledger uses. `repr` hides the PIN."""

    token: str
    object: str
    pin: str | None = None
    module_path: str | None = None

    def __repr__(self) -> str:
        return f"Pkcs11Uri(token={self.token!r}, object={self.object!r})"

    @classmethod
    def parse(cls, spec: str) -> Pkcs11Uri:
        """Parse `pkcs11:token=T;object=O[;type=private]?pin-value=P&module-path=M`."""
        text = spec.strip()
        if not text.lower().startswith(_SCHEME):
            _fail("PKCS#11 key URI must start with 'pkcs11:'")
        path, _, query = text[len(_SCHEME) :].partition("?")
        attrs = _attributes(path, ";", "path")
        params = _attributes(query, "&", "query")
        if attrs.get("type", "private") != "private":
            _fail("PKCS#11 key URI: type must be 'private' (the signing key)")
        token, label = attrs.get("token"), attrs.get("object")
        if not token or not label:
            _fail("PKCS#11 key URI needs token=<label> and object=<label>")
        return cls(token, label, params.get("pin-value"), params.get("module-path"))


def _attributes(text: str, sep: str, where: str) -> dict[str, str]:
    """Split `name=value` pairs, percent-decoding values; duplicates are an error."""
    found: dict[str, str] = {}
    for part in filter(None, text.split(sep)):
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            _fail(f"PKCS#11 key URI: malformed {where} attribute (want name=value)")
        if name in found:
            _fail(f"PKCS#11 key URI: {where} attribute {name!r} given twice")
        found[name] = unquote(value)
    return found


class Pkcs11Signer(Signer):
    """An Ed25519 note signer whose private key stays in a PKCS#11 token."""

    __slots__ = ("_key", "_session", "token_label")

    def __init__(self, name: str, session: Session, key: SignMixin, public_key: bytes) -> None:
        if not is_valid_name(name):
            _fail("invalid key name")
        self._session = session
        self._key = key
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.public_key)
        self.token_label = str(session.token.label)

    def sign(self, message: bytes) -> bytes:
        """Ask the token for the 64-byte Ed25519 signature of `message` (CKM_EDDSA)."""
        from pkcs11 import Mechanism
        from pkcs11.exceptions import PKCS11Error

        try:
            return bytes(self._key.sign(message, mechanism=Mechanism.EDDSA))
        except PKCS11Error as exc:
            _fail(f"PKCS#11 token {self.token_label!r} refused to sign ({type(exc).__name__})")

    def private_key_string(self) -> str:
        """A token key cannot be exported: that is the point of keeping it there."""
        _fail(
            f"key {self.name!r} lives in PKCS#11 token {self.token_label!r} and cannot be exported"
        )


def open_pkcs11_signer(name: str, spec: str) -> Pkcs11Signer:
    """Open a session on the token named by `spec` and find its Ed25519 key pair `object`.

    The module comes from `module-path=`, else `LEDGER_PKCS11_MODULE`, else the Debian SoftHSM2
    path; the PIN from `pin-value=`, else `LEDGER_PKCS11_PIN`. One probe signature is checked
    against the public half so a mismatched pair fails here, not in an auditor's verify.
    """
    uri = Pkcs11Uri.parse(spec)
    del spec  # may hold the PIN
    session = open_token_session(uri)
    key, public_key = _find_key_pair(session, uri)
    signer = Pkcs11Signer(name, session, key, public_key)
    if not Verifier.from_public_key(name, public_key).verify(_PROBE, signer.sign(_PROBE)):
        _fail(f"PKCS#11 object {uri.object!r}: private and public keys do not match")
    return signer


def open_token_session(uri: Pkcs11Uri) -> Session:
    """A logged-in session on the token of `uri` (module and PIN resolved as documented above).

    Shared by every key kind kept in a token (the log key, the subject KEK of ledger.kek).
    """
    module = uri.module_path or os.environ.get("LEDGER_PKCS11_MODULE") or DEFAULT_MODULE
    pin = uri.pin or os.environ.get("LEDGER_PKCS11_PIN")
    if not Path(module).is_file():
        _fail(
            f"PKCS#11 module not found: {module}; install softhsm2 or set module-path= "
            "or LEDGER_PKCS11_MODULE"
        )
    if not pin:
        _fail("PKCS#11 key URI has no PIN: add ?pin-value=... or set LEDGER_PKCS11_PIN")
    try:
        import pkcs11  # noqa: F401 - the optional `hsm` extra
    except ImportError:
        _fail("a pkcs11: key needs python-pkcs11: install agent-ledger[hsm]")
    session = _open_session(module, uri, pin)
    del pin
    return session


def _open_session(module: str, uri: Pkcs11Uri, pin: str) -> Session:
    import pkcs11
    from pkcs11 import exceptions as px

    problem = ""
    try:
        token = pkcs11.lib(module).get_token(token_label=uri.token)
        try:
            return token.open(user_pin=pin)
        except px.UserAlreadyLoggedIn:
            # PKCS#11 login is per process and token: an earlier session of this process
            # logged in already, and a new session shares that state (no second PIN check).
            return token.open()
    except px.NoSuchToken:
        problem = f"PKCS#11 token {uri.token!r} not found in {module}"
    except px.MultipleTokensReturned:
        problem = f"more than one PKCS#11 token is labelled {uri.token!r}"
    except (px.PinIncorrect, px.PinInvalid, px.PinLenRange):
        problem = f"wrong PIN for PKCS#11 token {uri.token!r}"
    except px.PinLocked:
        problem = f"the PIN of PKCS#11 token {uri.token!r} is locked"
    except (px.PKCS11Error, RuntimeError, OSError) as exc:
        problem = f"cannot open PKCS#11 token {uri.token!r} via {module} ({type(exc).__name__})"
    del pin
    _fail(problem)


def _find_key_pair(session: Session, uri: Pkcs11Uri) -> tuple[SignMixin, bytes]:
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11 import exceptions as px
    from pkcs11.types import SignMixin

    try:
        key = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS, label=uri.object)
        public = session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC_EDWARDS, label=uri.object)
        point = bytes(public[Attribute.EC_POINT])
    except px.NoSuchKey:
        _fail(f"no Ed25519 key pair labelled {uri.object!r} in PKCS#11 token {uri.token!r}")
    except px.MultipleObjectsReturned:
        _fail(f"more than one key labelled {uri.object!r} in PKCS#11 token {uri.token!r}")
    except px.PKCS11Error as exc:
        _fail(f"cannot read key {uri.object!r} from PKCS#11 token ({type(exc).__name__})")
    if not isinstance(key, SignMixin):
        _fail(f"PKCS#11 key {uri.object!r} cannot sign")
    return key, _ed25519_point(point, uri)


def _ed25519_point(point: bytes, uri: Pkcs11Uri) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING (04 20 || key) on most tokens, raw 32 bytes on some."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    _fail(f"PKCS#11 key {uri.object!r} is not an Ed25519 key (EC point of {len(point)} bytes)")
