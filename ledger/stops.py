"""The kill switch's one service: request a stop, lift it, list the stops in force.

Why one service: the CLI (`ledger stop`, `ledger resume`, `ledger stops`), the TUI's Stop panel,
the demo and `ledger serve`'s breakers must record the same events under the same rules. A stop
or a lift is a single-event run written through the one write door and sequenced before the
call returns, so when `ledger stop` returns the stop is in `ledger_stops` and the sequencer has
sent its NOTIFY (ledger.store.stops): agents learn of it from there.

Who may (issue 16): without a trust root, or with no signed registry in force for the log (a
fresh embedded ledger), the stop or lift is recorded unsigned as `authority: asserted` with the
reason: stopping must never wait for configuration. With a registry in force the principal
must hold a `stop` (or, to lift, `resume`) grant matching the target or `tenant:<tenant>`, AND
sign the claim (ledger.authority.stops) with the approver key the registry lists for it;
otherwise StopRefused and nothing is written.

Stopping a run that has already ended records the request (it is evidence) and says "already
ended N ago: nothing to halt" (`StopRecorded.note`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from ledger.approver_keys import load_approver_signer
from ledger.authority.registry import Registry
from ledger.authority.service import load_history
from ledger.authority.stops import StopAction, StopClaim, may_act, sign_stop, verify_stop
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.errors import InputError, LedgerError
from ledger.events import TENANT_PATTERN, StopData, StopLiftedData
from ledger.note import Signer, Verifier
from ledger.service_key import same_key
from ledger.stopsread import active_stops, stop_info
from ledger.stoptargets import agent_target, glob_literal, parse_agent_target
from ledger.store.door import append, single_event

__all__ = [
    "StopRecorded",
    "StopRefused",
    "active_stops",
    "agent_target",
    "glob_literal",
    "lift_stop",
    "parse_agent_target",
    "parse_target",
    "request_stop",
    "stop_info",
    "write_stop",
]

_TARGET = re.compile(r"(run|agent|tenant|tool|model|prompt):(\S.{0,499})", re.DOTALL)


class StopRefused(LedgerError):
    """The registry in force does not let this requester stop (or lift) this target; nothing
    was recorded."""

    label = "refused"


@dataclass(frozen=True, slots=True)
class StopRecorded:
    """The event a stop or a lift wrote, what it aims at and under what authority.

    `note` says when there was nothing to halt (a run that had already ended); `lifts` lists the
    stops a lift lifted."""

    event_id: uuid.UUID
    run_id: uuid.UUID  # the record's own single-event run
    tenant: str
    origin: str
    target: str
    authority: str  # "registry" or "asserted"
    signed: bool
    target_run_id: uuid.UUID | None = None
    note: str | None = None
    lifts: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class _Authority:
    """What the judge found: the authority fields both event types carry."""

    authority: str
    registry_hash: str | None = None
    scope: str | None = None
    reason: str | None = None
    signing_key: str | None = None
    signature: str | None = None
    issued_at: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "authority": self.authority,
            "authorised": True if self.authority == "registry" else None,
            "registry_hash": self.registry_hash, "scope": self.scope,
            "authority_reason": self.reason, "signing_key": self.signing_key,
            "signature": self.signature, "issued_at": self.issued_at,
        }  # fmt: skip


def parse_target(target: str) -> tuple[str, str]:
    """(kind, value) of a stop target (`run:<uuid>`, `agent:<name>[@<version>]`, `tenant:<t>`,
    `tool:<glob>`, `model:<glob>`, `prompt:<name>/<version>`); InputError if malformed or
    holding control characters (a target is shown on operators' terminals and matched by
    every agent: it is never anything but plain text)."""
    match = _TARGET.fullmatch(target)
    if match is None or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in target):
        raise InputError(
            f"stop target {target!r} must be run:ID, agent:NAME[@VERSION], tenant:T, "
            "tool:GLOB, model:GLOB or prompt:NAME/VERSION"
        )
    kind, value = match.group(1), match.group(2)
    if kind == "run":
        try:
            return kind, str(uuid.UUID(value))
        except ValueError:
            raise InputError(f"stop target {target!r}: {value!r} is not a run id") from None
    if kind == "tenant" and not re.match(TENANT_PATTERN, value):
        raise InputError(f"stop target {target!r}: {value!r} is not a tenant name")
    if kind == "prompt" and "/" not in value:
        raise InputError(f"stop target {target!r} must be prompt:NAME/VERSION")
    return kind, value


def _ago(seconds: float) -> str:
    """A rough age: 40 s, 12 min, 3 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def _run_facts(conn: psycopg.Connection, run_id: uuid.UUID) -> tuple[str, datetime | None]:
    """(tenant, ended at or None) of a logged run; InputError when the log has no such run."""
    row = conn.execute(query("stop_run_head"), (run_id,)).fetchone()
    if row is None:
        raise InputError(f"no run {run_id} in the ledger")
    kind, recorded_at, body = row
    tenant = str(orjson.loads(bytes(body)).get("tenant"))
    return tenant, recorded_at if kind == "run.ended" else None


def _grant(
    registry: Registry, action: StopAction, principal: str, target: str, *, tenant: str, label: str
) -> tuple[str, Verifier]:
    """(granted scope, the principal's approver key) or StopRefused (authority.stops.may_act)."""
    judged = may_act(registry, action, principal, target, tenant)
    if isinstance(judged, str):
        raise StopRefused(f"{principal} may not {action} {target}: {judged} in {label}")
    return judged


def _service_verifier(registry: Registry, label: str, signer: Signer | None) -> Verifier:
    """The ledger's own acts (breakers): the registry's `service_key` is both the grant and the
    key, and `signer` must be its private half; StopRefused otherwise."""
    if registry.service_key is None:
        raise StopRefused(f"the ledger service may not stop: {label} lists no service_key")
    if signer is None or not same_key(signer, registry.service_key):
        have = "no key" if signer is None else f"key {signer.name}+{signer.key_id.hex()}"
        raise StopRefused(f"the ledger service may not stop: {have} is not the service_key "
                          f"of {label}")  # fmt: skip
    return Verifier.from_vkey(registry.service_key)


def _judge(
    conn: psycopg.Connection,
    settings: Settings,
    root: TrustRoot | None,
    *,
    action: StopAction,
    principal: str,
    target: str,
    tenant: str,
    reason: str,
    signer: Signer | None,
    key: str | None = None,
    service: bool = False,
) -> _Authority:
    """The authority a stop or lift is recorded under; StopRefused when it may not be."""
    if root is None:
        return _Authority("asserted", reason=NO_TRUST_ROOT)
    origin = settings.origin(tenant)
    in_force = load_history(conn, origin, root).latest()
    registry = in_force.registry
    if registry is None or in_force.digest is None:
        return _Authority("asserted", reason=in_force.reason)
    label = f"registry {registry.registry.name} v{registry.version}"
    if service:
        scope, verifier = "service", _service_verifier(registry, label, signer)
    else:
        scope, verifier = _grant(registry, action, principal, target, tenant=tenant, label=label)
    try:
        signer = signer or load_approver_signer(settings, principal, key)
    except LedgerError as exc:
        raise StopRefused(f"{principal} may not {action} {target}: {exc}") from None
    issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    claim = StopClaim(action, origin, target, reason, principal, in_force.digest, issued)
    signed = sign_stop(claim, signer)
    problem = verify_stop(claim, signed, verifier)
    if problem is not None:
        raise StopRefused(f"{principal} may not {action} {target}: {problem}")
    return _Authority(
        "registry", in_force.digest, scope, None, signed.signing_key, signed.signature, issued
    )


def write_stop(
    conn: psycopg.Connection,
    settings: Settings,
    data: StopData | StopLiftedData,
    *,
    tenant: str,
    who: str,
    caused_by: uuid.UUID | None = None,
    via: str = "cli",
) -> tuple[uuid.UUID, uuid.UUID]:
    """Append one judged stop or lift through the write door, sequenced: (event id, run id).

    Only a role that may write control-plane events (the owner, a superuser, ledger_operator)
    records one: a writer's would be refused by the sequencer after being acknowledged, so it
    is refused here, before anything is written, in one line."""
    row = conn.execute(query("stop_recorder")).fetchone()
    if row is None or not row[1]:
        who = row[0] if row else "?"
        raise StopRefused(
            f"role {who} may not record stops or lifts: only the ledger owner or a "
            "ledger_operator role may (a writer never can)"
        )
    kind = "run.stop.requested" if isinstance(data, StopData) else "run.stop.lifted"
    event = single_event(
        kind, data, tenant=tenant, principal={"initiating_user": who},
        correlation={"caused_by": caused_by} if caused_by else {},
        source={"framework": "python", "integration": via},
    )  # fmt: skip
    append(conn, [event], settings)
    return event.event_id, event.run_id


def _tenant_of(
    conn: psycopg.Connection, settings: Settings, target: str, tenant: str | None
) -> tuple[str, uuid.UUID | None, datetime | None]:
    """(tenant, run id for a run target, when that run ended) of a target."""
    kind, value = parse_target(target)
    if kind == "run":
        run_id = uuid.UUID(value)
        run_tenant, ended = _run_facts(conn, run_id)
        if tenant is not None and tenant != run_tenant:
            raise InputError(f"run {run_id} is in tenant {run_tenant}, not {tenant}")
        return run_tenant, run_id, ended
    if kind == "tenant":
        if tenant is not None and tenant != value:
            raise InputError(f"target {target} is not in tenant {tenant}")
        return value, None, None
    return tenant or settings.tenant, None, None


def request_stop(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    target: str,
    reason: str,
    requested_by: str,
    signer: Signer | None = None,
    root: TrustRoot | None = None,
    tenant: str | None = None,
    via: str = "cli",
    key: str | None = None,
    target_tool_call_id: str | None = None,
    caused_by: uuid.UUID | None = None,
    service: bool = False,
) -> StopRecorded:
    """Record a stop of `target` (judged, signed when a registry is in force), sequenced.

    `signer` (else `key`, else the principal's `ledger keys approver` key) signs under a
    registry; `tenant` defaults to the run's (run targets), the target's (tenant targets) or
    settings.tenant. The TUI passes the call it stopped at (`target_tool_call_id`) and the
    event it was looking at (`caused_by`, kept as correlation). `service`: the ledger's own act
    (breakers), signed by `signer`, which must be the registry's service_key."""
    tenant, run_id, ended = _tenant_of(conn, settings, target, tenant)
    auth = _judge(conn, settings, root, action="stop", principal=requested_by, target=target,
                  tenant=tenant, reason=reason, signer=signer, key=key,
                  service=service)  # fmt: skip
    data = StopData(requested_by=requested_by, reason=reason, target=target,
                    target_run_id=run_id, target_tool_call_id=target_tool_call_id,
                    **auth.fields())  # fmt: skip
    event_id, own_run = write_stop(conn, settings, data, tenant=tenant, who=requested_by,
                                   caused_by=caused_by, via=via)  # fmt: skip
    note = None
    if ended is not None:
        age = (datetime.now(UTC) - ended).total_seconds()
        note = f"already ended {_ago(max(age, 0))} ago: nothing to halt"
    return StopRecorded(event_id, own_run, tenant, settings.origin(tenant), target,
                        auth.authority, auth.signature is not None, run_id, note)  # fmt: skip


def lift_stop(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    target: str,
    reason: str,
    lifted_by: str,
    signer: Signer | None = None,
    root: TrustRoot | None = None,
    tenant: str | None = None,
    via: str = "cli",
    key: str | None = None,
) -> StopRecorded:
    """Lift every active stop with exactly `target` in its tenant's log (`ledger resume`)."""
    tenant, _, _ = _tenant_of(conn, settings, target, tenant)
    origin = settings.origin(tenant)
    lifts = tuple(s.stop_event_id for s in active_stops(conn, settings, [origin])
                  if s.target == target and s.stop_event_id is not None)  # fmt: skip
    if not lifts:
        raise InputError(f"no active stop of {target} in tenant {tenant}: nothing to lift")
    auth = _judge(conn, settings, root, action="resume", principal=lifted_by, target=target,
                  tenant=tenant, reason=reason, signer=signer, key=key)  # fmt: skip
    data = StopLiftedData(lifted_by=lifted_by, reason=reason, target=target, lifts=lifts,
                          **auth.fields())  # fmt: skip
    event_id, own_run = write_stop(conn, settings, data, tenant=tenant, who=lifted_by, via=via)
    return StopRecorded(event_id, own_run, tenant, origin, target, auth.authority,
                        auth.signature is not None, lifts=lifts)  # fmt: skip
