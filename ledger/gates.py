"""Release-gate results: judge their authority, sign, record, read back, re-check.

Why one service: `ledger gate run`, `gate check` and `gate compare` all end by recording "the
release passed (or failed) the gate", and `ledger versions` and the evidence bundle (SOC 2
CC8.1) read those records; all must agree on who vouched for a result. A result is a
single-event run (`gate.result`) appended through the write door and sequenced before the call
returns, in the log of the tenant whose runs it judged. It is a control-plane event: a writer's
credentials can neither record one here (GateRefused, before anything is written) nor slip one
into intake (the sequencer refuses it, ledger.store.controlplane).

Authority, like a breaker's stop (ledger.stops, `service=True`): a result is `registry` when it
is signed with the key the registry in force lists as its `service_key` (the key CI holds,
`--sign-with`). Unlike a stop, a result signed with any other key, or unsigned, or recorded
without a trust root or registry, is not refused but recorded `asserted` with the reason (and
the signature, if a key was given): a gate result is evidence of what was tested, and losing a
failing result because the key was wrong would hide exactly what an auditor must see. Only a
`registry` result counts as "the release passed the gate" for `ledger versions`' known-good
mark and the bundle's CC8.1 population, and verify_gate re-checks its signature against the
registry that was in force at its position in the log.

The signed claim: `agent-ledger/gate/v1\\n` + suite_hash + `\\n` + decision + `\\n` + the RFC
8785 bytes of {"data": the result without its authority fields, "origin", "registry",
"issued_at"}: it cannot be moved to another log, registry or time, nor its decision flipped.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import psycopg

from ledger.authority.service import load_history
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import LedgerError
from ledger.event_data import Frozen
from ledger.event_gate import GateResultData
from ledger.events import decode_event
from ledger.gate_claim import AUTHORITY_FIELDS, GATE_DOMAIN, GateCheck, check_gate, gate_message
from ledger.keys import load_key
from ledger.note import Signer
from ledger.service_key import same_key
from ledger.store.door import append, single_event
from ledger.store.gates import gate_rows

__all__ = [
    "AUTHORITY_FIELDS",
    "GATE_DOMAIN",
    "GateCheck",
    "GateRecorded",
    "GateRefused",
    "RecordedGate",
    "gate_message",
    "gate_results",
    "judge_authority",
    "load_gate_signer",
    "may_record",
    "record_gate_result",
    "sign_claim",
    "verify_gate",
]


_D = TypeVar("_D", bound=Frozen)


class GateRefused(LedgerError):
    """This connection may not record gate results (a writer's); nothing was recorded."""

    label = "refused"


@dataclass(frozen=True, slots=True)
class GateRecorded:
    """What record_gate_result wrote: the event, its log, and the authority it carries."""

    event_id: uuid.UUID
    origin: str
    authority: Literal["registry", "asserted"]
    signed: bool
    run_id: uuid.UUID | None = None
    reason: str | None = None  # why `asserted`


@dataclass(frozen=True, slots=True)
class RecordedGate:
    """A stored gate result: its place in the log and its data."""

    event_id: uuid.UUID
    seq: int
    recorded_at: datetime
    data: GateResultData
    origin: str = ""


def load_gate_signer(spec: str) -> Signer:
    """The `--sign-with` key: a key file or a `pkcs11:` URI, loaded as LEDGER_SERVICE_KEY is
    (ledger.service_key); a key that cannot be loaded is a one-line KeyFileError / HsmError."""
    return load_key(spec, None)


def sign_claim(
    data: _D, origin: str, signer: Signer, *,
    message: Callable[[Any, str], bytes] = gate_message, **fields: Any,
) -> _D:  # fmt: skip
    """`data` with the authority `fields`, issued now, and `signer`'s signature over them (the
    bytes `message` makes: a gate result's claim unless another record's is given)."""
    issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = data.model_copy(update={**fields, "issued_at": issued,
                                   "signing_key": f"{signer.name}+{signer.key_id.hex()}"})
    raw = signer.sign(message(data, origin))
    return data.model_copy(update={"signature": base64.b64encode(raw).decode()})


def judge_authority(
    conn: psycopg.Connection, origin: str, root: TrustRoot | None, signer: Signer | None
) -> tuple[str | None, str | None]:
    """(registry digest or None, reason for `asserted` or None: the result is `registry`)."""
    if root is None:
        return None, NO_TRUST_ROOT
    in_force = load_history(conn, origin, root).latest()
    registry = in_force.registry
    if registry is None or in_force.digest is None:
        return None, in_force.reason
    label = f"registry {registry.registry.name} v{registry.version}"
    if registry.service_key is None:
        return in_force.digest, f"{label} lists no service_key"
    if signer is None:
        return in_force.digest, f"unsigned (no --sign-with): not the service_key of {label}"
    if not same_key(signer, registry.service_key):
        return in_force.digest, (
            f"key {signer.name}+{signer.key_id.hex()} is not the service_key of {label}"
        )
    return in_force.digest, None


def may_record(conn: psycopg.Connection, what: str = "gate results") -> None:
    """GateRefused unless this login may write control-plane events (a writer never can)."""
    row = conn.execute(query("stop_recorder")).fetchone()
    if row is None or not row[1]:
        who = row[0] if row else "?"
        raise GateRefused(
            f"role {who} may not record {what}: only the ledger owner or a "
            "ledger_operator role may (a writer never can)"
        )


def record_gate_result(
    conn: psycopg.Connection,
    settings: Settings,
    data: GateResultData,
    *,
    signer: Signer | None,
    root: TrustRoot | None,
    tenant: str | None = None,
) -> GateRecorded:
    """Judge, sign and append one gate result (authority fields of `data` are replaced)."""
    may_record(conn)
    tenant = tenant or settings.tenant
    origin = settings.origin(tenant)
    data = data.model_copy(update=dict.fromkeys(AUTHORITY_FIELDS))
    digest, reason = judge_authority(conn, origin, root, signer)
    authority: Literal["registry", "asserted"] = "asserted" if reason else "registry"
    fields: dict[str, Any] = {"authority": authority, "authority_reason": reason,
                              "registry_hash": digest}
    data = (sign_claim(data, origin, signer, **fields) if signer is not None
            else data.model_copy(update=fields))  # fmt: skip
    event = single_event(
        "gate.result", data, tenant=tenant, principal={"initiating_user": data.recorded_by},
        source={"framework": "python", "integration": "gate"},
    )  # fmt: skip
    append(conn, [event], settings)
    return GateRecorded(event.event_id, origin, authority, signer is not None, event.run_id,
                        reason)  # fmt: skip


def gate_results(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    label: str | None = None,
    agent: str | None = None,
    origin: str | None = None,
) -> list[RecordedGate]:
    """The recorded gate results, newest first; `label` / `agent` (any of its versions) /
    `origin` narrow them. `settings` is the caller's (kept for symmetry with the writers)."""
    del settings
    found: list[RecordedGate] = []
    for row in gate_rows(conn, None if origin is None else [origin]):
        data = decode_event(row.body).data
        if not isinstance(data, GateResultData):
            continue
        if label is not None and data.label != label:
            continue
        if agent is not None and all(v.agent != agent for v in data.versions):
            continue
        found.append(RecordedGate(row.event_id, row.seq, row.recorded_at, data, row.origin))
    return found


def verify_gate(
    conn: psycopg.Connection, recorded: RecordedGate, root: TrustRoot | None
) -> GateCheck:
    """Re-check a recorded result against the registry history of its log (ledger.gate_claim:
    the same rule the offline bundle verifier applies)."""
    if recorded.data.authority == "registry" and root is None:
        return GateCheck("registry", False, f"cannot check the signature: {NO_TRUST_ROOT}")
    history = load_history(conn, recorded.origin, root)
    return check_gate(history, recorded.seq, recorded.origin, recorded.data)
