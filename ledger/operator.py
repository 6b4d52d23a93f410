"""What a human operator records in the ledger: annotations (notes, bookmarks, tags) and stops.

Why a service: the TUI records these today and the CLI will tomorrow; both must write the same
event with the same envelope, so the use case lives here once, on top of the one write door
(`ledger.store.door`). Each record is a single-event run (fresh run id, `run_seq` 0) linked to
what it is about by `correlation.caused_by`, as DESIGN §3 prescribes for non-run events, and is
sequenced before returning, so the caller can show it (and a verifier can prove it) at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import psycopg

from ledger.config import Settings
from ledger.events import AnnotationData, StopData
from ledger.store.door import append, single_event

__all__ = ["AnnotationKind", "Recorded", "record_annotation", "record_stop"]

AnnotationKind = Literal["note", "bookmark", "tag"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """The event an operator action wrote, and where: its id, its own run and its tenant."""

    event_id: uuid.UUID
    run_id: uuid.UUID
    tenant: str


def _record(
    conn: psycopg.Connection,
    settings: Settings,
    kind: str,
    data: AnnotationData | StopData,
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


def record_stop(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    tenant: str,
    requested_by: str,
    reason: str,
    target_event_id: uuid.UUID,
    tool_call_id: str | None = None,
    via: str = "tui",
) -> Recorded:
    """Record a `run.stop.requested` event aimed at a run (or one tool call of it).

    A stop request is a recorded intent, not a kill: the ledger keeps who asked, why and when,
    whatever the run then does (pausing a run does not revoke its credentials).
    """
    data = StopData(requested_by=requested_by, reason=reason, target_tool_call_id=tool_call_id)
    return _record(
        conn,
        settings,
        "run.stop.requested",
        data,
        tenant=tenant,
        who=requested_by,
        caused_by=target_event_id,
        via=via,
    )
