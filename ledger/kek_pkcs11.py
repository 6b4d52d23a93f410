"""The subject key-encryption key as an RSA key pair in a PKCS#11 token (ledger.kek's token form).

Why: with a file KEK, whoever reads the keys directory and a database dump opens every private
payload. In a token the KEK private key never leaves it: unwrapping a subject key is an
RSA-OAEP decryption inside the token. Wrapping needs only the public key, read out of the token
once (CKA_MODULUS, CKA_PUBLIC_EXPONENT) and used in software (`cryptography`). A writer given no
PIN reads it in a session without login (the public key must be generated with CKA_PRIVATE
false), so writers wrap new subject keys holding no secret at all.

OAEP uses SHA-1 for the hash and MGF1: SoftHSM2 2.6 accepts no other OAEP hash, and OAEP's
security rests on the hash as a random oracle, not on its collision resistance. Selected by
`LEDGER_SUBJECT_KEK=pkcs11:token=T;object=O` (RFC 7512, PIN as for the log key).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from ledger.hsm import HsmError, Pkcs11Uri, open_token_session
from ledger.kek import SCHEME_RSA, KekError, kek_id_of

if TYPE_CHECKING:
    from pkcs11 import Session

__all__ = ["TokenKek", "TokenKekPublic", "token_kek", "token_kek_public"]


class TokenKekPublic:
    """The token KEK's public key, used in software to wrap subject keys (RSA-OAEP)."""

    scheme = SCHEME_RSA

    def __init__(self, modulus: int, exponent: int) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        length = (modulus.bit_length() + 7) // 8
        self.kek_id = kek_id_of(modulus.to_bytes(length, "big") + exponent.to_bytes(4, "big"))

    def wrap(self, subject_private: bytes) -> bytes:
        """RSA-OAEP encryption of the 32-byte subject private key to the token's public key."""
        return bytes(self._key.encrypt(subject_private, _oaep()))


def _oaep() -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303


class TokenKek:
    """The RSA KEK pair of one token object; `unwrap` decrypts inside the token."""

    scheme = SCHEME_RSA

    def __init__(self, session: Session, private: Any, public: TokenKekPublic, label: str) -> None:
        self._session, self._private, self._public, self._label = session, private, public, label
        self.kek_id = public.kek_id

    def __repr__(self) -> str:
        return f"TokenKek({self._label!r}, {self.kek_id})"

    def public(self) -> TokenKekPublic:
        """The public half (software wrapping)."""
        return self._public

    def unwrap(self, wrapped: bytes) -> bytes:
        """Decrypt a wrapped subject key in the token (CKM_RSA_PKCS_OAEP, SHA-1/MGF1-SHA-1)."""
        from pkcs11 import MGF, Mechanism
        from pkcs11.exceptions import PKCS11Error

        try:
            return bytes(
                self._private.decrypt(
                    wrapped,
                    mechanism=Mechanism.RSA_PKCS_OAEP,
                    mechanism_param=(Mechanism.SHA_1, MGF.SHA1, None),
                )
            )
        except PKCS11Error as exc:
            raise KekError(
                f"PKCS#11 KEK {self._label!r} cannot unwrap this subject key ({type(exc).__name__})"
            ) from None


def token_kek_public(spec: str) -> TokenKekPublic:
    """The token KEK's public key for a writer: read in a session without login when no PIN is
    configured (so a writer needs no PIN), else from the logged-in session of `token_kek`."""
    uri = Pkcs11Uri.parse(spec)
    if uri.pin or os.environ.get("LEDGER_PKCS11_PIN"):
        return token_kek(spec).public()
    return _public_only(spec.strip(), os.environ.get("LEDGER_PKCS11_MODULE", ""))


@functools.lru_cache(maxsize=4)
def _public_only(spec: str, _module: str) -> TokenKekPublic:
    import pkcs11
    from pkcs11 import exceptions as px

    from ledger.hsm import DEFAULT_MODULE

    uri = Pkcs11Uri.parse(spec)
    module = uri.module_path or os.environ.get("LEDGER_PKCS11_MODULE") or DEFAULT_MODULE
    try:
        session = pkcs11.lib(module).get_token(token_label=uri.token).open()
    except (px.PKCS11Error, RuntimeError, OSError) as exc:
        raise HsmError(
            f"cannot open PKCS#11 token {uri.token!r} via {module} ({type(exc).__name__})"
        ) from None
    try:
        return _public_key(session, uri)
    except HsmError:
        raise HsmError(
            f"no RSA public key labelled {uri.object!r} readable without login in PKCS#11 token "
            f"{uri.token!r}: generate it with CKA_PRIVATE false, or set LEDGER_PKCS11_PIN"
        ) from None


def _public_key(session: Session, uri: Pkcs11Uri) -> TokenKekPublic:
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11 import exceptions as px

    try:
        public = session.get_key(ObjectClass.PUBLIC_KEY, KeyType.RSA, label=uri.object)
        modulus = int.from_bytes(bytes(public[Attribute.MODULUS]), "big")
        exponent = int.from_bytes(bytes(public[Attribute.PUBLIC_EXPONENT]), "big")
    except px.NoSuchKey:
        raise HsmError(
            f"no RSA key pair labelled {uri.object!r} in PKCS#11 token {uri.token!r} "
            "(the subject KEK)"
        ) from None
    except px.MultipleObjectsReturned:
        raise HsmError(f"more than one key labelled {uri.object!r} in {uri.token!r}") from None
    except px.PKCS11Error as exc:
        raise HsmError(
            f"cannot read KEK {uri.object!r} from token ({type(exc).__name__})"
        ) from None
    return TokenKekPublic(modulus, exponent)


def token_kek(spec: str) -> TokenKek:
    """The token KEK named by `spec` (one session per URI and PIN for the life of the process)."""
    return _token_kek(spec.strip(), os.environ.get("LEDGER_PKCS11_PIN", ""))


@functools.lru_cache(maxsize=4)
def _token_kek(spec: str, _pin: str) -> TokenKek:
    from pkcs11 import KeyType, ObjectClass
    from pkcs11 import exceptions as px

    uri = Pkcs11Uri.parse(spec)
    session = open_token_session(uri)
    public = _public_key(session, uri)
    try:
        private = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, label=uri.object)
    except px.NoSuchKey:
        raise HsmError(
            f"no RSA private key labelled {uri.object!r} in PKCS#11 token {uri.token!r} "
            "(the subject KEK)"
        ) from None
    except px.PKCS11Error as exc:
        raise HsmError(
            f"cannot read KEK {uri.object!r} from token ({type(exc).__name__})"
        ) from None
    return TokenKek(session, private, public, uri.object)
