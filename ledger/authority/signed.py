"""Signed registry versions: write one from YAML, sign it, check its signatures.

Why sign the content address and not the YAML: the bytes that are judged later are the
normalised document stored in the ledger, so the signature covers the SHA-256 of exactly that
(domain-separated, so a registry signature can never be replayed as a checkpoint or an approval
signature). JWKS given as `jwks_url` or `jwks_file` are fetched here, once, and frozen into the
signed document: the keys a token is later judged by are the ones the administrator signed.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.authority.registry import Registry, registry_document, registry_hash
from ledger.authority.trust import TrustRoot
from ledger.errors import InputError, validation_message
from ledger.note import Signer

__all__ = [
    "RegistryError",
    "RegistrySignature",
    "SignedRegistry",
    "load_registry_yaml",
    "parse_registry_yaml",
    "registry_message",
    "sign_registry",
]

_DOMAIN = b"agent-ledger/registry/v1\n"
_MAX_JWKS = 1024 * 1024


class RegistryError(InputError):
    """A registry file that cannot be read, validated, signed or trusted."""


class RegistrySignature(BaseModel):
    """One administrator signature: the key's name and id, and the Ed25519 signature (base64)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key_name: str = Field(min_length=1)
    key_id: str = Field(pattern=r"^[0-9a-f]{8}$")
    signature: str


def registry_message(digest: str) -> bytes:
    """The bytes an administrator signs: a domain line, then the registry's content address."""
    return _DOMAIN + digest.encode("ascii") + b"\n"


@dataclass(frozen=True, slots=True)
class SignedRegistry:
    """A registry version with its signatures, as written by `ledger registry sign`."""

    registry: Registry
    signatures: tuple[RegistrySignature, ...]

    @property
    def digest(self) -> str:
        return registry_hash(self.registry)

    def trusted_by(self, root: TrustRoot) -> RegistrySignature | None:
        """The first signature that verifies against an administrator key of `root`."""
        message = registry_message(self.digest)
        for sig in self.signatures:
            verifier = root.verifier(sig.key_name, sig.key_id)
            try:
                raw = base64.b64decode(sig.signature, validate=True)
            except ValueError:
                continue
            if verifier is not None and verifier.verify(message, raw):
                return sig
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "document": registry_document(self.registry),
            "signatures": [s.model_dump() for s in self.signatures],
        }

    @classmethod
    def from_json(cls, value: Any, where: str) -> SignedRegistry:
        """Parse `{document, signatures}` (a signed file, or the data of registry.published)."""
        if not isinstance(value, dict) or set(value) - {"document", "signatures"}:
            raise RegistryError(f"{where}: want an object with document and signatures")
        if not isinstance(value.get("signatures", []), list):
            raise RegistryError(f"{where}: signatures must be a list")
        try:
            registry = Registry.model_validate(value.get("document"))
            sigs = tuple(RegistrySignature.model_validate(s) for s in value.get("signatures", []))
        except ValidationError as exc:
            raise RegistryError(f"{where}: {validation_message(exc)}") from None
        return cls(registry, sigs)

    @classmethod
    def read(cls, path: Path) -> SignedRegistry:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{path}: cannot read a signed registry ({exc})") from None


def sign_registry(registry: Registry, signer: Signer) -> SignedRegistry:
    """Sign `registry`'s content address with an administrator key (file or PKCS#11)."""
    raw = signer.sign(registry_message(registry_hash(registry)))
    sig = RegistrySignature(
        key_name=signer.name,
        key_id=signer.key_id.hex(),
        signature=base64.b64encode(raw).decode("ascii"),
    )
    return SignedRegistry(registry, (sig,))


def _fetch_jwks(provider: dict[str, Any], base: Path) -> None:
    """Replace `jwks_url` / `jwks_file` by the key set they name, fetched now (the snapshot)."""
    url = provider.pop("jwks_url", None)
    file = provider.pop("jwks_file", None)
    if url is None and file is None:
        return
    if url is not None and file is not None:
        raise RegistryError("a provider takes one of jwks, jwks_url or jwks_file")
    try:
        if url is not None:
            with urllib.request.urlopen(str(url), timeout=10) as response:  # noqa: S310
                data = response.read(_MAX_JWKS + 1)
        else:
            data = (base / str(file)).read_bytes()[: _MAX_JWKS + 1]
        if len(data) > _MAX_JWKS:
            raise ValueError("key set larger than 1 MiB")
        jwks = json.loads(data)
    except (OSError, ValueError) as exc:
        raise RegistryError(f"JWKS of {provider.get('issuer')!r}: {exc}") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise RegistryError(f"JWKS of {provider.get('issuer')!r}: want an object with keys")
    provider["jwks"] = jwks


def load_registry_yaml(path: Path) -> Registry:
    """Read a registry YAML file, snapshot its JWKS, and validate it (one-line errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read registry ({exc.strerror})") from None
    return parse_registry_yaml(text, path.parent, str(path))


def parse_registry_yaml(text: str, base: Path, where: str) -> Registry:
    """Validate registry YAML; `jwks_file` paths are relative to `base`."""
    import yaml  # only here: a read command judging a stored registry needs no yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{where}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{where}: a registry is a mapping with registry, principals, ...")
    for provider in data.get("providers") or ():
        if isinstance(provider, dict):
            _fetch_jwks(provider, base)
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(f"{where}: {validation_message(exc)}") from None
