"""What a human operator records in the ledger: annotations (notes, bookmarks, tags) and stops.

Why a service: the TUI records these today and the CLI will tomorrow; both must write the same
event with the same envelope, so the use case lives here once, on top of the one write door
(`ledger.store.door`). Each record is a single-event run (fresh run id, `run_seq` 0) linked to
what it is about by `correlation.caused_by`, as DESIGN §3 prescribes for non-run events, and is
sequenced before returning, so the caller can show it (and a verifier can prove it) at once.

Who may stop (issue 14): with a trust root and a signed registry in force, a stop is recorded
only when the registry's `stop` grants allow the requester for one of the stop's scopes:
`run:<run_id>` (the run stopped), `tenant:<tenant>` (every run of a tenant) and, for one tool
call, `tool:<tool name>`; grants match with globs (`run:*`, `tool:payments.*`). A requester the
registry does not allow is refused and nothing is written. Without a trust root or registry the
stop is still recorded (stopping must never wait for configuration at 3 a.m.), marked
`authority: asserted` with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import psycopg

from ledger.authority.service import load_history
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.config import Settings
from ledger.events import AnnotationData, StopData
from ledger.stops import StopRefused, write_stop
from ledger.store import read
from ledger.store.door import append, single_event

__all__ = [
    "AnnotationKind",
    "Recorded",
    "StopAuthority",
    "StopRefused",
    "record_annotation",
    "record_stop",
    "stop_authority",
    "stop_scopes",
]


@dataclass(frozen=True, slots=True)
class StopAuthority:
    """Under what authority a stop is recorded: registry-granted, or asserted and why."""

    authority: Literal["registry", "asserted"]
    registry_hash: str | None
    scope: str | None
    reason: str | None

AnnotationKind = Literal["note", "bookmark", "tag"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """The event an operator action wrote, and where: its id, its own run and its tenant."""

    event_id: uuid.UUID
    run_id: uuid.UUID
    tenant: str
    authority: str | None = None  # stops: "registry" or "asserted"


def _record(
    conn: psycopg.Connection,
    settings: Settings,
    kind: str,
    data: AnnotationData,
    *,
    tenant: str,
    who: str,
    caused_by: uuid.UUID | None,
    via: str,
) -> Recorded:
    """Append one operator event through the write door, sequenced, and say where it went."""
    event = single_event(
        kind,
        data,
        tenant=tenant,
        principal={"initiating_user": who},
        correlation={"caused_by": caused_by} if caused_by else {},
        source={"framework": "python", "integration": via},
    )
    append(conn, [event], settings)
    return Recorded(event.event_id, event.run_id, event.tenant)


def record_annotation(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant: str,
    author: str,
    kind: AnnotationKind,
    text: str,
    target_event_id: uuid.UUID | None,
    target_run_id: uuid.UUID | None,
    tags: Sequence[str] = (),
    via: str = "tui",
) -> Recorded:
    """Record a note, bookmark or tag on an event (or a run) as an `annotation` event.

    Annotations are evidence too: an investigator's note is hashed, sequenced and provable like
    the events it comments on, and it never alters them.
    """
    data = AnnotationData(
        target_event_id=target_event_id,
        target_run_id=target_run_id,
        kind=kind,
        text=text,
        tags=tuple(tags),
        author=author,
    )
    return _record(
        conn,
        settings,
        "annotation",
        data,
        tenant=tenant,
        who=author,
        caused_by=target_event_id,
        via=via,
    )


def stop_scopes(tenant: str, run_id: uuid.UUID | None, tool: str | None) -> tuple[str, ...]:
    """The `stop` grant scopes a stop falls under: its run, its tenant, its tool (if a call)."""
    scopes = [f"run:{run_id}"] if run_id is not None else []
    scopes.append(f"tenant:{tenant}")
    if tool:
        scopes.append(f"tool:{tool}")
    return tuple(scopes)


def stop_authority(
    conn: psycopg.Connection,
    settings: Settings,
    root: TrustRoot | None,
    *,
    tenant: str,
    requested_by: str,
    scopes: Sequence[str],
) -> StopAuthority:
    """Judge a stop by the registry in force now; StopRefused when it does not allow it."""
    if root is None:
        return StopAuthority("asserted", None, None, NO_TRUST_ROOT)
    in_force = load_history(conn, settings.origin(tenant), root).latest()
    registry = in_force.registry
    if registry is None:
        return StopAuthority("asserted", None, None, in_force.reason)
    granted = next((s for s in scopes if registry.allows(registry.stop, requested_by, s)), None)
    if granted is None:
        raise StopRefused(
            f"{requested_by} may not stop {' / '.join(scopes)}: no stop grant in registry "
            f"{registry.registry.name} v{registry.version}"
        )
    return StopAuthority("registry", in_force.digest, granted, None)


def record_stop(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant: str,
    requested_by: str,
    reason: str,
    target_event_id: uuid.UUID,
    tool_call_id: str | None = None,
    tool: str | None = None,
    root: TrustRoot | None = None,
    via: str = "tui",
) -> Recorded:
    """Record a `run.stop.requested` event aimed at a run (or one tool call of it): the TUI's
    Stop panel. Judged by issue 14's rules (run, tenant or tool grant scopes, unsigned) and
    written by ledger.stops (target `run:<run_id>`); `ledger stop` uses
    ledger.stops.request_stop, which also requires the principal's signature under a registry.

    A stop request is a recorded intent, not a kill: the ledger keeps who asked, why and when,
    whatever the run then does (pausing a run does not revoke its credentials). The requester is
    judged by the registry in force (`root`; None records the stop as asserted).
    """
    target = read.event_by_id(conn, target_event_id)
    run_id = target.event.run_id if target is not None else None
    scopes = stop_scopes(tenant, run_id, tool)
    auth = stop_authority(
        conn, settings, root, tenant=tenant, requested_by=requested_by, scopes=scopes
    )
    data = StopData(
        requested_by=requested_by,
        reason=reason,
        target_tool_call_id=tool_call_id,
        authority=auth.authority,
        authorised=True if auth.authority == "registry" else None,
        registry_hash=auth.registry_hash,
        scope=auth.scope,
        authority_reason=auth.reason,
        target=f"run:{run_id}" if run_id is not None else None,
        target_run_id=run_id,
    )
    event_id, own_run = write_stop(
        conn, settings, data, tenant=tenant, who=requested_by, caused_by=target_event_id, via=via
    )
    return Recorded(event_id, own_run, tenant, auth.authority)
