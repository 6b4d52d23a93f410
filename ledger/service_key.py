"""The ledger's service identity key: what signs the ledger's own automatic acts.

Why a key of its own: `ledger serve`'s circuit breakers stop scopes with nobody at the keyboard.
Under a registry such a stop must be provably the ledger's act, so it is signed with the key
whose public half the registry lists as `service_key`, never with an operator's or an
approver's key. The private half lives where the serving host keeps it: LEDGER_SERVICE_KEY
names a key file or a `pkcs11:` URI (the key stays in the token), else `<home>/keys/service.key`
(0600), made only by `ledger keys service`, never on first use. Only the public key and the
signatures reach the ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ledger.config import Settings
from ledger.keys import KeyNotFound, load_key
from ledger.note import Signer, Verifier

__all__ = [
    "SERVICE_KEY_ENV",
    "SERVICE_NAME",
    "ServiceKey",
    "create_service_key",
    "load_service_signer",
    "same_key",
    "service_key_path",
]

SERVICE_KEY_ENV = "LEDGER_SERVICE_KEY"
SERVICE_NAME = "ledger-service"


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """Where the service key lives, its public key, and whether this call created it."""

    path: Path
    vkey: str
    created: bool


def service_key_path(settings: Settings) -> Path:
    """The default service key file under the ledger home's keys directory."""
    return settings.keys_dir / "service.key"


def create_service_key(settings: Settings, name: str = SERVICE_NAME) -> ServiceKey:
    """Create the service key (mode 0600) explicitly; an existing key is kept, never replaced."""
    path = service_key_path(settings)
    existed = path.exists()
    signer = load_key(path, name, create=True)
    return ServiceKey(path, signer.vkey, not existed)


def load_service_signer(settings: Settings) -> Signer | None:
    """The service signer from LEDGER_SERVICE_KEY (key file or `pkcs11:` URI), else the default
    key file; None when neither is configured (acts are then recorded unsigned, `asserted`).
    A named key that cannot be loaded is a one-line KeyFileError / HsmError."""
    spec = os.environ.get(SERVICE_KEY_ENV, "").strip()
    if spec:
        return load_key(spec, None)
    try:
        return load_key(service_key_path(settings), None)
    except KeyNotFound:
        return None


def same_key(signer: Signer, vkey: str) -> bool:
    """True when `signer` is the private half of the public key `vkey` (name and key)."""
    listed = Verifier.from_vkey(vkey)
    return listed.name == signer.name and listed.key_id == signer.key_id
