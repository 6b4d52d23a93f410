"""Inspector and trace facts for one event or run, computed from the log (read-only).

Why here and not in a widget: these are database reads plus hashing (inclusion proofs against the
latest signed checkpoint, run-chain checks), so they run in thread workers and return plain
dataclasses the screens render. Who the run acted for is replay's verdict (replay.dbread.
stored_identity, the lines `ledger replay` prints); who may stop it is the registry's word
(ledger.authority.stoppers, the judgement `ledger stop` makes), or "asserted, no registry".
Neither scans the log: the registry history of the run's log and the run's own events suffice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from ledger.canonical import canonical_bytes
from ledger.events import leaf_hash
from ledger.merkle import ProofError
from ledger.proofs import ProofUnavailable, checkpoint_row, inclusion_for_seq
from ledger.store import board
from ledger.store.read import StoredEvent, event_by_id, run_events
from tui.findings import Findings
from tui.stopview import scope_choices, stopped_by

if TYPE_CHECKING:
    from ledger.authority.history import InForce
    from ledger.authority.stoppers import StopAuthority
    from ledger.authority.trust import TrustRoot
    from ledger.config import Settings

__all__ = ["ANYONE", "EventDetail", "RunTrace", "event_detail", "run_trace"]

ANYONE = "anyone with an operator connection (the stop is recorded as asserted)"


@dataclass
class EventDetail:
    """What the inspector shows for one event."""

    origin: str
    seq: int
    document: dict[str, Any]
    canonical: str
    leaf_hash: str
    recomputed_ok: bool
    chain: str
    proof: str
    links: list[tuple[str, str, int, str]] = field(
        default_factory=list
    )  # (relation, origin, seq, type)
    version_diff: list[str] = field(default_factory=list)


def event_detail(conn: psycopg.Connection, origin: str, seq: int) -> EventDetail | None:
    """Canonical JSON, hashes, run-chain link, inclusion proof, links and version diff."""
    stored = board.event_at(conn, origin, seq)
    if stored is None:
        return None
    body, leaf = stored.body, stored.leaf_hash
    doc: dict[str, Any] = orjson.loads(body)
    return EventDetail(
        origin=origin,
        seq=seq,
        document=doc,
        canonical=body.decode(),
        leaf_hash=leaf.hex(),
        recomputed_ok=leaf_hash(body) == leaf and canonical_bytes(doc) == body,
        chain=_chain_link(conn, doc),
        proof=_proof(conn, origin, seq, leaf),
        links=_links(conn, doc),
        version_diff=(
            _version_diff(conn, origin, seq, doc) if doc.get("type") == "run.started" else []
        ),
    )


def _chain_link(conn: psycopg.Connection, doc: dict[str, Any]) -> str:
    """Whether this event's prev_run_hash is the stored leaf of the run's previous event."""
    run_seq = int(doc["run_seq"])
    if run_seq == 0:
        return "first event of its run"
    prev = board.run_leaf(conn, uuid.UUID(doc["run_id"]), run_seq - 1)
    if prev is None:
        return f"GAP: run_seq {run_seq - 1} missing"
    if prev.hex() == doc.get("prev_run_hash"):
        return f"ok: prev_run_hash = leaf of run_seq {run_seq - 1}"
    return f"BROKEN: prev_run_hash does not match run_seq {run_seq - 1}"


def _proof(conn: psycopg.Connection, origin: str, seq: int, leaf: bytes) -> str:
    """The inclusion proof against the latest signed checkpoint (ledger.proofs), in one line."""
    try:
        size, root, _note = checkpoint_row(conn, origin)
    except ProofUnavailable:
        size = 0
    if seq >= size:
        return "not yet covered by a signed checkpoint"
    try:
        hashes = inclusion_for_seq(conn, origin, seq, size, root, leaf)
    except (ProofError, LookupError) as exc:
        return f"INVALID against checkpoint {size}: {exc}"
    return (
        f"included in checkpoint size {size} ({len(hashes)} proof hashes, root {root.hex()[:16]})"
    )


def _links(conn: psycopg.Connection, doc: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    out: list[tuple[str, str, int, str]] = []
    caused = (doc.get("correlation") or {}).get("caused_by")
    if caused and (hit := event_by_id(conn, uuid.UUID(caused))) is not None:
        kind = str(orjson.loads(hit.body).get("type"))
        out.append(("caused by", hit.origin, hit.seq, kind))
    event_id = str(doc.get("event_id"))
    for stored in board.linked_events(conn, uuid.UUID(doc["run_id"]), uuid.UUID(event_id)):
        link = _link(stored, event_id, (doc.get("data") or {}).get("tool_call_id"))
        if link is not None:
            out.append(link)
    return out


def _link(
    stored: StoredEvent, event_id: str, tool_call_id: str | None
) -> tuple[str, str, int, str] | None:
    """How `stored` relates to the event `event_id` (None when it does not)."""
    other = orjson.loads(stored.body)
    kind, data = str(other.get("type")), other.get("data") or {}
    origin, seq = stored.origin, stored.seq
    if kind == "approval.decided" and tool_call_id and data.get("tool_call_id") == tool_call_id:
        by = (data.get("approver") or {}).get("id")
        return ("approved by", origin, seq, f"{data.get('decision')} by {by}")
    if kind.startswith("undo.") and data.get("compensates") == event_id:
        return ("compensated by", origin, seq, f"{kind} {data.get('status') or ''}")
    if kind == "annotation" and data.get("target_event_id") == event_id:
        return ("annotated", origin, seq, f"{data.get('kind')}: {data.get('text')}")
    if (other.get("correlation") or {}).get("caused_by") == event_id:
        return ("caused", origin, seq, kind)
    return None


def _version_diff(
    conn: psycopg.Connection, origin: str, seq: int, doc: dict[str, Any]
) -> list[str]:
    agent = (doc.get("agent") or {}).get("name")
    mine = doc.get("versions") or {}
    for body in board.run_starts_before(conn, origin, seq):
        prev = orjson.loads(body)
        if (prev.get("agent") or {}).get("name") != agent:
            continue
        theirs = prev.get("versions") or {}
        lines = [f"previous run {prev.get('run_id')} of {agent}:"]
        for key in ("prompt_version", "model", "policy_hash", "tool_contract_digest"):
            a, b = theirs.get(key), mine.get(key)
            mark = "  " if a == b else "≠ "
            lines.append(f"{mark}{key}: {a} -> {b}")
        return lines
    return [f"no earlier run of {agent} in this log"]


@dataclass
class RunTrace:
    """Trace and stop facts for one run."""

    run_id: str
    origin: str
    initiated_by: str
    roles: tuple[str, ...]  # the roles the writer recorded in run.started: asserted
    agent: str
    versions: dict[str, str]
    events: int
    chain_ok: bool
    chain_note: str
    proof: str
    status: str
    tool_calls: list[str]
    may_stop: list[str]
    first_event_id: str
    stop_basis: str = ""  # whose word `may_stop` is: a registry version, or asserted (why)
    identity: list[str] = field(default_factory=list)  # `ledger replay`'s who lines
    docs: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None  # who stopped it, confirmed against ledger_stops (tui.stopview)
    findings: Findings | None = None  # `ledger check`'s failures (tui.findings), set by a worker


def run_trace(
    conn: psycopg.Connection,
    run_id: str,
    root: TrustRoot | None = None,
    settings: Settings | None = None,
) -> RunTrace | None:
    """Who initiated the run (replay's verdict under `root`), versions in force, chain
    verified, and who may stop it (the registry in force under `root`)."""
    from replay.authority import load_authority
    from replay.dbread import stored_identity
    from replay.identity import identity_lines

    stored = run_events(conn, uuid.UUID(run_id))
    if not stored:
        return None
    docs = [orjson.loads(s.body) for s in stored]
    ok, note = _run_chain(stored, docs)
    last = stored[-1]
    authority = load_authority(conn, stored[0].origin, root)
    stoppers = _stoppers(authority.history.latest(), run_id, docs)
    first = docs[0]
    principal = first.get("principal") or {}
    user = str(principal.get("initiating_user") or "-")
    return RunTrace(
        run_id=run_id,
        origin=last.origin,
        initiated_by=user,
        roles=tuple(principal.get("roles") or ()),
        agent=str((first.get("agent") or {}).get("name") or "-"),
        versions={k: str(v) for k, v in (first.get("versions") or {}).items()},
        events=len(docs),
        chain_ok=ok,
        chain_note=note,
        proof=_proof(conn, last.origin, last.seq, last.leaf_hash),
        status=_status(docs),
        tool_calls=_tool_calls(docs),
        may_stop=_may_stop(stoppers, run_id, docs),
        stop_basis=stoppers.basis,
        identity=identity_lines(stored_identity(conn, stored[0], authority, settings)),
        first_event_id=str(first.get("event_id")),
        docs=docs,
        stopped=stopped_by(conn, docs, str(uuid.UUID(run_id)), last.origin),
    )


def _run_chain(stored: list[StoredEvent], docs: list[dict[str, Any]]) -> tuple[bool, str]:
    """Walk the run chain: run_seq without gaps, each prev_run_hash the previous stored leaf."""
    prev = None
    for i, (event, doc) in enumerate(zip(stored, docs, strict=True)):
        if int(doc.get("run_seq", -1)) != i:
            return False, f"gap at run_seq {i}"
        if doc.get("prev_run_hash") != prev or leaf_hash(event.body) != event.leaf_hash:
            return False, f"chain broken at run_seq {i}"
        prev = event.leaf_hash.hex()
    return True, "run chain intact"


def _stoppers(in_force: InForce, run_id: str, docs: list[dict[str, Any]]) -> StopAuthority:
    """The registry's stoppers of the scopes the Stop pane offers (run, agent@version, agent,
    tenant), by the judgement `ledger stop` makes."""
    from ledger.authority.stoppers import stop_authority

    targets = [target for _, target in scope_choices(run_id, docs)]
    return stop_authority(in_force, targets, str(docs[0].get("tenant") or "default"))


def _may_stop(found: StopAuthority, run_id: str, docs: list[dict[str, Any]]) -> list[str]:
    """One line per principal the registry lets stop: id (registry roles): scopes covered.
    Without a registry: anyone with an operator connection, recorded as asserted."""
    if found.label is None:
        return [ANYONE]
    labels = dict((target, label) for label, target in scope_choices(run_id, docs))
    return [
        f"{s.principal} ({', '.join(s.roles) or 'named'}): "
        + ", ".join(labels.get(t, t) for t in s.targets)
        for s in found.stoppers
    ]


def _status(docs: list[dict[str, Any]]) -> str:
    ended = [d for d in docs if d.get("type") == "run.ended"]
    if ended:
        return str((ended[-1].get("data") or {}).get("status"))
    if any(d.get("type") == "run.stop.requested" for d in docs):
        return "stop requested"
    return "running"


def _tool_calls(docs: list[dict[str, Any]]) -> list[str]:
    out = []
    for doc in docs:
        if doc.get("type") == "tool.call.started":
            data = doc.get("data") or {}
            write = " [write]" if data.get("side_effect") else ""
            out.append(f"{data.get('tool')} {data.get('tool_call_id')}{write}")
    return out
