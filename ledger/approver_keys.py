"""Approver signing keys: created only on an explicit command, never on first use.

Why: an approval is worth what its key is worth. If `ledger undo approve --as NAME` made a key
for any NAME, anyone could approve as anyone. So a key file under `keys/approvers/NAME.key`
(0600, see ledger.keys) is made only by `ledger keys approver NAME`, and approving needs it.
An approver may instead sign from a PKCS#11 token: `key=` (or LEDGER_APPROVER_KEY) names an
existing key file or a `pkcs11:` URI. That spec is the signer's own configuration: only the
public key (vkey) and the signature ever reach the ledger, never the URI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ledger.config import Settings
from ledger.errors import InputError
from ledger.hsm import is_pkcs11_uri
from ledger.identity import same_principal
from ledger.keys import KeyFileError, KeyNotFound, load_key
from ledger.note import Signer, is_valid_name

__all__ = [
    "ApproverKey",
    "UnknownApprover",
    "approver_key_path",
    "create_approver_key",
    "load_approver_signer",
]


class UnknownApprover(InputError):
    """An approver without a key file: create it first with `ledger keys approver NAME`."""


@dataclass(frozen=True, slots=True)
class ApproverKey:
    """Where an approver key lives, its public key, and whether this call created it."""

    path: Path
    vkey: str
    created: bool


def _check_name(name: str) -> None:
    if not is_valid_name(name) or "/" in name:
        raise InputError(f"approver name {name!r} must be a plain name (no spaces, '+' or '/')")


def approver_key_path(settings: Settings, name: str) -> Path:
    """The key file of approver `name` under the ledger home's keys directory."""
    return settings.keys_dir / "approvers" / f"{name}.key"


def create_approver_key(settings: Settings, name: str) -> ApproverKey:
    """Create approver `name`'s key (mode 0600); an existing key is kept, never replaced."""
    _check_name(name)
    path = approver_key_path(settings, name)
    existed = path.exists()
    signer = load_key(path, name, create=True)
    return ApproverKey(path, signer.vkey, not existed)


def load_approver_signer(settings: Settings, name: str, key: str | None = None) -> Signer:
    """Approver `name`'s signer, from `key` (a key file or a `pkcs11:` URI), else
    LEDGER_APPROVER_KEY, else `keys/approvers/NAME.key`. Nothing is ever created here: a
    missing default key is UnknownApprover, a bad `key` a one-line KeyFileError/HsmError.

    A key file given explicitly must be for the same principal (compared normalised, so
    `--as Alice@Example.com` may use `alice@example.com.key`); the registered public key is
    checked again by whoever records the approval.
    """
    _check_name(name)
    spec = (key or os.environ.get("LEDGER_APPROVER_KEY", "")).strip()
    if spec and is_pkcs11_uri(spec):
        return load_key(spec, name)
    if spec:
        signer = load_key(spec, None)
        if not same_principal(signer.name, name):
            raise KeyFileError(f"{spec}: key is for name {signer.name!r}, expected {name!r}")
        return signer
    path = approver_key_path(settings, name)
    try:
        return load_key(path, name)
    except KeyNotFound:
        raise UnknownApprover(
            f"unknown approver {name!r}: no key at {path}; "
            f"create it first with `ledger keys approver {name}`"
        ) from None
