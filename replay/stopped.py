"""Who stopped a run: the `stopped_by` its run.ended carries (issue 16), confirmed against the
stops the ledger recorded, for replay's and the TUI's display.

Why confirmed: run.ended is the agent's own event (a writer may record it with any data: the
sequencer checks an event's head only), so `stopped_by` is the agent's claim. It is shown as
fact only when its `stop_event_id` names a stop recorded in `ledger_stops` of the run's own log
whose target covers the run; then what is shown is the recorded stop (requester, authority,
target, reason), never the claim's copy. Otherwise the line says "claimed by the agent; no such
stop recorded". A malformed claim (not an object, wrong field types) is no claim: None, never
a traceback. Why a lookup and not a fold field: only a run that ended `stopped` has one, and
the fold's fast decoder (replay.fastdecode) stays as small as the checks need.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from ledger.stoptargets import target_covers
from ledger.store.read import event_by_id
from ledger.store.stops import StopRow, recorded_stop
from replay.model import RunState

if TYPE_CHECKING:  # the event models load for a stopped run's claim only (`replay` of any run)
    from ledger.events import StopRef

__all__ = ["UNCONFIRMED", "StoppedBy", "claim_of", "confirm", "describe", "stopped_by"]

UNCONFIRMED = "stopped: claimed by the agent; no such stop recorded"


@dataclass(frozen=True, slots=True)
class StoppedBy:
    """A run.ended's stop claim and the recorded stop confirming it (None: unconfirmed)."""

    claim: StopRef
    recorded: StopRow | None


def claim_of(data: object) -> StopRef | None:
    """The well-formed `stopped_by` of a run.ended's data, else None."""
    if not isinstance(data, dict) or data.get("status") != "stopped":
        return None
    raw = data.get("stopped_by")
    if not isinstance(raw, dict):
        return None
    from pydantic import ValidationError

    from ledger.events import StopRef

    try:
        return StopRef.model_validate(raw)
    except (ValidationError, ValueError, TypeError):
        return None


def confirm(
    conn: psycopg.Connection, origin: str, claim: StopRef, *, run_id: str, tenant: str,
    agent: str | None, version: str | None, tools: Iterable[str] = (),
    model: str | None = None, prompt: str | None = None,
) -> StoppedBy:
    """The claim with the stop it names, if that stop is recorded in `origin` and covers the run."""
    row = recorded_stop(conn, origin, claim.stop_event_id) if claim.stop_event_id else None
    if row is not None and not target_covers(
        row.target, row.target_run_id, run_id=run_id, tenant=tenant, agent=agent,
        version=version, tools=tools, model=model, prompt=prompt,
    ):  # fmt: skip
        row = None
    return StoppedBy(claim, row)


def stopped_by(conn: psycopg.Connection, state: RunState) -> StoppedBy | None:
    """The stop claim of this run's run.ended, confirmed or not (None if none or malformed)."""
    run = state.run
    if run.status != "stopped" or run.ended_event_id is None or run.run_id is None:
        return None
    stored = event_by_id(conn, uuid.UUID(run.ended_event_id))
    if stored is None or not stored.origin:
        return None
    try:
        doc: Any = orjson.loads(stored.body)
    except orjson.JSONDecodeError:
        return None
    claim = claim_of(doc.get("data") if isinstance(doc, dict) else None)
    if claim is None:
        return None
    return confirm(
        conn, stored.origin, claim, run_id=str(run.run_id), tenant=run.tenant or "default",
        agent=run.agent, version=run.agent_version, tools=[c.tool for c in state.tool_calls],
        model=state.versions.model, prompt=state.versions.prompt_version,
    )  # fmt: skip


def describe(found: StoppedBy) -> str:
    """One line: `stopped by alice (registry) via agent:support@1.2: refund storm` from the
    recorded stop, or UNCONFIRMED (callers print it through `printable`)."""
    row = found.recorded
    if row is None:
        return UNCONFIRMED
    line = f"stopped by {row.requested_by} ({row.authority or 'asserted'}) via {row.target}"
    return line + (f": {row.reason}" if row.reason else "")
