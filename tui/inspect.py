"""Inspector and trace facts for one event or run, computed from the log (read-only).

Why here and not in a widget: these are database reads plus hashing (inclusion proofs against the
latest signed checkpoint, run-chain checks), so they run in thread workers and return plain
dataclasses the screens render. Authority ("who may stop this run") is computed from the ledger:
the run's initiating user, plus every principal or approver seen in the log whose roles include a
stop role named by the newest published policy (`stop_roles`), defaulting to DEFAULT_STOP_ROLES.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, LiteralString

import orjson

from ledger.canonical import canonical_bytes
from ledger.events import leaf_hash
from ledger.merkle import ProofError, verify_inclusion
from ledger.store.read import latest_checkpoint
from ledger.tiles import TileReader, inclusion_ranges
from tui.data import LedgerData

__all__ = ["DEFAULT_STOP_ROLES", "EventDetail", "RunTrace", "event_detail", "run_trace"]

DEFAULT_STOP_ROLES: tuple[str, ...] = ("admin", "security", "incident-commander", "sre")

_EVENT: LiteralString = (
    "SELECT recorded_at, body, leaf_hash FROM ledger_events WHERE origin = %s AND seq = %s"
)
_RUN_PREV: LiteralString = "SELECT leaf_hash FROM ledger_events WHERE run_id = %s AND run_seq = %s"
_BY_ID: LiteralString = "SELECT origin, seq, type FROM ledger_events WHERE event_id = %s"
_LINKED: LiteralString = (
    "SELECT origin, seq, type, body FROM ledger_events "
    "WHERE origin = ANY(%(origins)s) AND type IN ('approval.decided', 'undo.step.started', "
    "'undo.step.ended', 'annotation', 'run.stop.requested') "
    "AND (run_id = %(run)s OR convert_from(body, 'UTF8') LIKE %(needle)s) ORDER BY origin, seq"
)
_ORIGINS: LiteralString = "SELECT DISTINCT origin FROM ledger_checkpoints"
_RUN_STARTS: LiteralString = (
    "SELECT body FROM ledger_events WHERE type = 'run.started' AND origin = %s AND seq < %s "
    "ORDER BY seq DESC LIMIT 500"
)
_RUN_ROWS: LiteralString = (
    "SELECT origin, seq, run_seq, body, leaf_hash FROM ledger_events WHERE run_id = %s "
    "ORDER BY run_seq"
)
_PRINCIPALS: LiteralString = (
    "SELECT DISTINCT convert_from(body, 'UTF8')::jsonb #>> '{principal,initiating_user}', "
    "convert_from(body, 'UTF8')::jsonb #> '{principal,roles}' FROM ledger_events "
    "WHERE type = 'run.started'"
)
_APPROVERS: LiteralString = (
    "SELECT DISTINCT convert_from(body, 'UTF8')::jsonb #>> '{data,approver,id}', "
    "convert_from(body, 'UTF8')::jsonb #> '{data,approver,roles}' FROM ledger_events "
    "WHERE type = 'approval.decided'"
)
_LATEST_POLICY: LiteralString = (
    "SELECT body FROM ledger_events WHERE type = 'policy.published' "
    "ORDER BY recorded_at DESC, seq DESC LIMIT 1"
)


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


def event_detail(data: LedgerData, origin: str, seq: int) -> EventDetail | None:
    """Canonical JSON, hashes, run-chain link, inclusion proof, links and version diff."""
    with data._lock:
        conn = data.conn()
        row = conn.execute(_EVENT, (origin, seq)).fetchone()
        if row is None:
            return None
        _rec, body_raw, leaf_raw = row
        body, leaf = bytes(body_raw), bytes(leaf_raw)
        doc: dict[str, Any] = orjson.loads(body)
        run_id, run_seq = uuid.UUID(doc["run_id"]), int(doc["run_seq"])
        chain = "first event of its run"
        if run_seq > 0:
            prev = conn.execute(_RUN_PREV, (run_id, run_seq - 1)).fetchone()
            if prev is None:
                chain = f"GAP: run_seq {run_seq - 1} missing"
            elif bytes(prev[0]).hex() == doc.get("prev_run_hash"):
                chain = f"ok: prev_run_hash = leaf of run_seq {run_seq - 1}"
            else:
                chain = f"BROKEN: prev_run_hash does not match run_seq {run_seq - 1}"
        proof = _proof(conn, origin, seq, leaf)
        links = _links(conn, doc)
        diff = _version_diff(conn, origin, seq, doc) if doc.get("type") == "run.started" else []
    return EventDetail(
        origin=origin,
        seq=seq,
        document=doc,
        canonical=body.decode(),
        leaf_hash=leaf.hex(),
        recomputed_ok=leaf_hash(body) == leaf and canonical_bytes(doc) == body,
        chain=chain,
        proof=proof,
        links=links,
        version_diff=diff,
    )


def _proof(conn: Any, origin: str, seq: int, leaf: bytes) -> str:
    cp = latest_checkpoint(conn, origin)
    if cp is None or seq >= cp.tree_size:
        return "not yet covered by a signed checkpoint"
    ranges = inclusion_ranges(seq, cp.tree_size)
    try:
        hashes = TileReader(conn, origin).hashes(ranges)
        verify_inclusion(leaf, seq, cp.tree_size, hashes, cp.root_hash)
    except (ProofError, LookupError) as exc:
        return f"INVALID against checkpoint {cp.tree_size}: {exc}"
    root = cp.root_hash.hex()[:16]
    return f"included in checkpoint size {cp.tree_size} ({len(hashes)} proof hashes, root {root})"


def _links(conn: Any, doc: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    out: list[tuple[str, str, int, str]] = []
    caused = (doc.get("correlation") or {}).get("caused_by")
    if caused:
        hit = conn.execute(_BY_ID, (uuid.UUID(caused),)).fetchone()
        if hit:
            out.append(("caused by", str(hit[0]), int(hit[1]), str(hit[2])))
    event_id = str(doc.get("event_id"))
    tool_call_id = (doc.get("data") or {}).get("tool_call_id")
    all_origins = [r[0] for r in conn.execute(_ORIGINS).fetchall()]
    for origin, seq, kind, body in conn.execute(
        _LINKED,
        {"run": uuid.UUID(doc["run_id"]), "needle": f"%{event_id}%", "origins": all_origins},
    ).fetchall():
        other = orjson.loads(bytes(body))
        data = other.get("data") or {}
        if kind == "approval.decided" and tool_call_id and data.get("tool_call_id") == tool_call_id:
            out.append(
                (
                    "approved by",
                    origin,
                    int(seq),
                    f"{data.get('decision')} by {(data.get('approver') or {}).get('id')}",
                )
            )
        elif kind.startswith("undo.") and data.get("compensates") == event_id:
            out.append(("compensated by", origin, int(seq), f"{kind} {data.get('status') or ''}"))
        elif kind == "annotation" and data.get("target_event_id") == event_id:
            out.append(("annotated", origin, int(seq), f"{data.get('kind')}: {data.get('text')}"))
        elif (other.get("correlation") or {}).get("caused_by") == event_id:
            out.append(("caused", origin, int(seq), kind))
    return out


def _version_diff(conn: Any, origin: str, seq: int, doc: dict[str, Any]) -> list[str]:
    agent = (doc.get("agent") or {}).get("name")
    mine = doc.get("versions") or {}
    for (body,) in conn.execute(_RUN_STARTS, (origin, seq)).fetchall():
        prev = orjson.loads(bytes(body))
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
    roles: tuple[str, ...]
    agent: str
    versions: dict[str, str]
    events: int
    chain_ok: bool
    chain_note: str
    proof: str
    status: str
    tool_calls: list[str]
    may_stop: list[str]
    stop_roles: tuple[str, ...]
    first_event_id: str
    docs: list[dict[str, Any]] = field(default_factory=list)
    people: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def eligible_approvers(self, roles: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
        """People seen in the ledger holding any of `roles` (anyone if none), minus `exclude`."""
        out = sorted(
            {
                who
                for who, have in self.people
                if who not in exclude and (not roles or set(have) & set(roles))
            }
        )
        return out


def run_trace(data: LedgerData, run_id: str) -> RunTrace | None:
    """Who initiated the run, versions in force, chain verified, and who may stop it."""
    with data._lock:
        conn = data.conn()
        rows = conn.execute(_RUN_ROWS, (uuid.UUID(run_id),)).fetchall()
        if not rows:
            return None
        docs = [orjson.loads(bytes(r[3])) for r in rows]
        ok, note, prev = True, "run chain intact", None
        for i, (_o, _s, run_seq, body, leaf) in enumerate(rows):
            if int(run_seq) != i:
                ok, note = False, f"gap at run_seq {i}"
                break
            if docs[i].get("prev_run_hash") != prev or leaf_hash(bytes(body)) != bytes(leaf):
                ok, note = False, f"chain broken at run_seq {i}"
                break
            prev = bytes(leaf).hex()
        origin, last_seq = str(rows[-1][0]), int(rows[-1][1])
        proof = _proof(conn, origin, last_seq, bytes(rows[-1][4]))
        policy = conn.execute(_LATEST_POLICY).fetchone()
        stop_roles = DEFAULT_STOP_ROLES
        if policy:
            document = (orjson.loads(bytes(policy[0])).get("data") or {}).get("document") or {}
            if isinstance(document, dict) and document.get("stop_roles"):
                stop_roles = tuple(str(r) for r in document["stop_roles"])
        people = conn.execute(_PRINCIPALS).fetchall() + conn.execute(_APPROVERS).fetchall()
    first = docs[0]
    principal = first.get("principal") or {}
    user = str(principal.get("initiating_user") or "-")
    may = {f"{user} (initiator)"} if user != "-" else set()
    for who, roles in people:
        hit = sorted(set(roles or ()) & set(stop_roles))
        if who and hit:
            may.add(f"{who} ({', '.join(hit)})")
    ended = [d for d in docs if d.get("type") == "run.ended"]
    stops = [d for d in docs if d.get("type") == "run.stop.requested"]
    status = str((ended[-1].get("data") or {}).get("status")) if ended else "running"
    if stops and not ended:
        status = "stop requested"
    tools = [
        f"{(d.get('data') or {}).get('tool')} {(d.get('data') or {}).get('tool_call_id')}"
        + (" [write]" if (d.get("data") or {}).get("side_effect") else "")
        for d in docs
        if d.get("type") == "tool.call.started"
    ]
    return RunTrace(
        run_id=run_id,
        origin=origin,
        initiated_by=user,
        roles=tuple(principal.get("roles") or ()),
        agent=str((first.get("agent") or {}).get("name") or "-"),
        versions={k: str(v) for k, v in (first.get("versions") or {}).items()},
        events=len(docs),
        chain_ok=ok,
        chain_note=note,
        proof=proof,
        status=status,
        tool_calls=tools,
        may_stop=sorted(may),
        stop_roles=stop_roles,
        first_event_id=str(first.get("event_id")),
        docs=docs,
        people=[(str(w), tuple(r or ())) for w, r in people if w],
    )
