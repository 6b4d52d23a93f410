"""The signed claim of a gate result and its check against a registry history: pure.

Why its own module: the ledger (ledger.gates.verify_gate, `ledger versions`) and the offline
bundle verifier (exporters.bundle_authority, no database code) must re-check a `registry` gate
result with the same bytes and the same rule. The claim: `agent-ledger/gate/v1\\n` +
suite_hash + `\\n` + decision + `\\n` + the RFC 8785 bytes of {"data": the result without its
authority fields, "origin", "registry", "issued_at"}.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.authority.history import RegistryHistory
from ledger.canonical import canonical_bytes
from ledger.event_gate import GateResultData
from ledger.note import Verifier

__all__ = [
    "AUTHORITY_FIELDS", "GATE_DOMAIN", "GateCheck", "check_claim", "check_gate", "claim_message",
    "gate_message",
]

GATE_DOMAIN = "agent-ledger/gate/v1"
AUTHORITY_FIELDS = frozenset({
    "authority", "registry_hash", "authority_reason", "signature", "signing_key", "issued_at",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class GateCheck:
    """A re-check's answer: `ok` only for a registry result whose signature checks."""

    authority: str
    ok: bool
    reason: str  # "signed with the service_key of registry acme v1" or why not


def claim_message(domain: str, head: Sequence[str], data: Any, origin: str) -> bytes:
    """The bytes an operator record's signature covers: `domain` and the `head` lines, then the
    RFC 8785 bytes of {"data": the record without its authority fields, "origin", "registry",
    "issued_at"}. Gate results use it; so do partition records (ledger.partitions)."""
    body = data.model_dump(mode="json", exclude=set(AUTHORITY_FIELDS))
    claim = canonical_bytes({
        "data": body, "origin": origin, "registry": data.registry_hash,
        "issued_at": data.issued_at,
    })  # fmt: skip
    return "".join(f"{line}\n" for line in (domain, *head)).encode() + claim


def gate_message(data: GateResultData, origin: str) -> bytes:
    """The bytes a gate result's signature covers (module docstring)."""
    return claim_message(GATE_DOMAIN, (data.suite_hash, data.decision), data, origin)


def check_gate(history: RegistryHistory, seq: int, origin: str, data: GateResultData) -> GateCheck:
    """A recorded result at `seq` of log `origin`: a `registry` one must carry the signature of
    the service_key of the registry in force there (the one it names)."""
    return check_claim(history, seq, data, gate_message(data, origin))


def check_claim(
    history: RegistryHistory, seq: int, data: Any, message: bytes, what: str = "result"
) -> GateCheck:
    """Any operator record at `seq` whose signed bytes are `message` (`claim_message`): a
    `registry` one must carry the signature of the service_key of the registry in force there
    (the one it names). Gate results use it; so do retention records (ledger.retention)."""
    if data.authority != "registry":
        return GateCheck("asserted", False, f"asserted: {data.authority_reason or 'unsigned'}")
    in_force = history.at(seq)
    registry = in_force.registry
    if registry is None:
        return GateCheck("registry", False, f"cannot check the signature: {in_force.reason}")
    if in_force.digest != data.registry_hash:
        return GateCheck("registry", False, f"names registry {data.registry_hash!r}, but "
                         f"{in_force.digest!r} was in force at seq {seq}")  # fmt: skip
    label = f"registry {registry.registry.name} v{registry.version}"
    if registry.service_key is None:
        return GateCheck("registry", False, f"{label} lists no service_key")
    key = Verifier.from_vkey(registry.service_key)
    if data.signing_key != f"{key.name}+{key.key_id.hex()}" or data.signature is None:
        return GateCheck("registry", False, f"signed by {data.signing_key!r}, not the "
                         f"service_key of {label}")  # fmt: skip
    try:
        raw = base64.b64decode(data.signature, validate=True)
    except (binascii.Error, ValueError):
        return GateCheck("registry", False, "signature is not base64")
    if not key.verify(message, raw):
        return GateCheck("registry", False, f"signature does not match the {what}")
    return GateCheck("registry", True, f"signed with the service_key of {label}")
