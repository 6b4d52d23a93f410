"""Writers' events the sequencer refuses: control-plane events, and runs that hide themselves.

The threat model (issue 15): the agent host holds writer credentials and may be hostile. Events
that change how the ledger is governed (a policy pack, the principal registry, the key ring, a
redaction, a stop) or that speak for people and tools outside the agent (an investigator's
annotation, an export record, undo plans and steps) must not be writable with those
credentials. The sequencer knows who submitted each intake row (`submitted_by`, filled by
PostgreSQL, not by the writer), so it judges here, once per batch per distinct role:

- a superuser, a member of the tables' owner, or a member of `ledger_operator` may write them
  (single-user embedded mode, where the local user owns everything, works as before);
- from anyone else (a *writer*), `registry.published` is accepted only when the registry history
  of its log would accept it next (ledger.authority.history: signed by an administrator key of
  the trust root over the recomputed content address, governing this log, the same registry as
  the one in force, a higher version), and every other control-plane type is refused: none
  carries a signature the registry authorises today (a stop's `authority` fields are the
  writer's own claim, a redaction's and a key event's signatures are not registry grants);
- a writer's run must start (run_seq 0) with run.started, a single-event type or the ledger.gap a
  hook records in place of a run.started it could not build: a run starting
  elsewhere is listed by neither `ledger runs` nor `ledger check`, so it would hide its events.
- only `ledger serve` (a ledger_sequencer member) or an operator ends a run as `abandoned`: a
  writer's run.ended of that status is refused, so an agent host cannot pass a run it gave up
  on (or failed) off as one the ledger gave up waiting for.
- The sequencer reads the trust root from LEDGER_TRUST_ROOT (`ledger.authority.trust`); with none
  configured, or one that cannot be read, a writer's registry.published is refused too.

Screening one event never fails the batch: whatever a hostile body makes it raise becomes that
event's reject reason.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import orjson
import psycopg

from ledger.authority.history import PublishedRegistry, RegistryHistory
from ledger.authority.trust import TrustRoot, TrustRootError, trust_root
from ledger.db.sqlfiles import query
from ledger.event_exercise import EXERCISE_EVENT_TYPES
from ledger.event_gate import GATE_EVENT_TYPES
from ledger.event_monitor import MONITOR_EVENT_TYPES
from ledger.event_partition import PARTITION_EVENT_TYPES
from ledger.event_retention import RETENTION_EVENT_TYPES
from ledger.store.batch import SINGLE_EVENT_TYPES, Drained, Parsed
from ledger.store.registry import published_registries

__all__ = ["CONTROL_PLANE_TYPES", "screen_control_plane"]

CONTROL_PLANE_TYPES = frozenset({
    "policy.published", "registry.published", "key.announced", "key.rotated", "key.revoked",
    "redaction", "run.stop.requested", "run.stop.lifted", "annotation", "export.created",
    "undo.plan.created", "undo.plan.approved", "undo.step.started", "undo.step.ended",
    *EXERCISE_EVENT_TYPES,  # a facilitator's record speaks for people, not for the agent
    *GATE_EVENT_TYPES,  # "the release passed the gate" is the operator's word, never the agent's
    *MONITOR_EVENT_TYPES,  # a tamper alert: the verifier's word (an agent could drown it out)
    *PARTITION_EVENT_TYPES,  # storage changes are the owner's record (ledger.partitions)
    *RETENTION_EVENT_TYPES,  # rules, holds and archives govern what the ledger keeps
})  # fmt: skip
# a hook that cannot build run.started records a ledger.gap in its place and the run goes on
_RUN_STARTS = SINGLE_EVENT_TYPES | {"run.started", "ledger.gap"}
_OPERATOR_ONLY = "only ledger_operator roles may write it (no registry-authorised signature)"
_LATER = 1 << 62  # seq of a publication earlier in this batch: after every stored one


def _operators(conn: psycopg.Connection, roles: set[str],
               name: str = "operator_roles") -> set[str]:
    """The roles among `roles` that may write control-plane events (one query per batch), or
    with `abandon_roles`, end a run as abandoned."""
    if not roles:
        return set()
    rows = conn.execute(query(name), (sorted(roles),)).fetchall()
    return {str(name) for name, allowed in rows if allowed}


def _recorded(body: bytes) -> dict[str, Any]:
    """The {document, signatures} a registry.published body carries (ValueError if none)."""
    data = orjson.loads(body).get("data")
    if not isinstance(data, dict):
        raise ValueError("registry.published data must be an object")
    return {"document": data.get("document"), "signatures": data.get("signatures", [])}


class _Registries:
    """The registry history of each log the batch publishes to, read once per log per batch,
    extended by the publications earlier in the batch (so two in one batch are judged in turn)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.stored: dict[str, list[PublishedRegistry]] = {}
        self.batch: dict[str, list[PublishedRegistry]] = defaultdict(list)
        self.root: TrustRoot | None = None
        self.root_problem: str | None = None
        self.root_loaded = False

    def _load_root(self) -> None:
        """Read the trust root once per batch, when a writer's publication needs it."""
        self.root_loaded = True
        try:
            self.root = trust_root()
        except TrustRootError as exc:
            self.root_problem = f"the sequencer's trust root is unusable ({exc})"
            return
        if self.root is None:
            self.root_problem = (
                "the sequencer has no trust root (LEDGER_TRUST_ROOT) to check its signature"
            )

    def problem(self, item: Parsed) -> str:
        """Empty when the log's registry history would accept this publication next, else why."""
        if not self.root_loaded:
            self._load_root()
        if self.root_problem is not None:
            return self.root_problem
        if item.origin not in self.stored:
            with self.conn.transaction():  # a savepoint: a failed read cannot abort the batch
                self.stored[item.origin] = published_registries(self.conn, item.origin)
        published = self.stored[item.origin] + self.batch[item.origin]
        history = RegistryHistory.build(self.root, published, item.origin)
        try:
            recorded = _recorded(item.body)
        except ValueError as exc:
            return str(exc)
        return history.admits(recorded, item.origin) or ""

    def note(self, item: Parsed) -> None:
        """Count an accepted publication of this batch into its log's history."""
        try:
            recorded = _recorded(item.body)
        except ValueError:
            return  # the history refuses it later; it cannot become the registry in force
        seq = _LATER + len(self.batch[item.origin])
        event_id = uuid.UUID(item.head.event_id)
        self.batch[item.origin].append(PublishedRegistry(seq, event_id, recorded))


def _abandoned(item: Parsed) -> bool:
    """A run.ended of status `abandoned` (what only `ledger serve` writes)."""
    if item.head.type != "run.ended":
        return False
    doc = orjson.loads(item.body)
    data = doc.get("data") if isinstance(doc, dict) else None
    return isinstance(data, dict) and data.get("status") == "abandoned"


def _writer_refusal(item: Parsed, registries: _Registries) -> str:
    """Why a writer's event is refused ("" if it is accepted)."""
    kind = item.head.type
    if _abandoned(item):
        return (f"run.ended (abandoned) from writer role {item.role!r} refused: only "
                "`ledger serve` ends a run as abandoned")
    if kind in CONTROL_PLANE_TYPES:
        problem = registries.problem(item) if kind == "registry.published" else _OPERATOR_ONLY
        if not problem:
            return ""
        return f"control-plane event {kind} from writer role {item.role!r} refused: {problem}"
    if item.head.run_seq == 0 and kind not in _RUN_STARTS:
        return (
            f"run {item.head.run_id} from writer role {item.role!r} refused: it starts with "
            f"{kind}, not run.started or a single-event type"
        )
    return ""


def _screened(item: Parsed) -> bool:
    """Whether the role that submitted `item` matters for it."""
    kind = item.head.type
    return (kind in CONTROL_PLANE_TYPES or (item.head.run_seq == 0 and kind not in _RUN_STARTS)
            or _abandoned(item))


def screen_control_plane(conn: psycopg.Connection, drained: Drained) -> None:
    """Move writers' refused events from `drained.parsed` to its rejects."""
    screened = [p for p in drained.parsed if _screened(p)]
    if not screened:
        return
    operators = _operators(conn, {p.role for p in screened})
    abandoners = _operators(conn, {p.role for p in screened if _abandoned(p)}, "abandon_roles")
    registries = _Registries(conn)
    refused: set[int] = set()
    for item in screened:
        if item.role in operators or (item.role in abandoners and _abandoned(item)):
            reason = ""
        else:
            try:
                reason = _writer_refusal(item, registries)
            except Exception as exc:  # a hostile body must never stop the batch
                reason = (
                    f"{item.head.type} from writer role {item.role!r} refused: it cannot be "
                    f"screened ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
                )
        if reason:
            drained.reject(item, reason)
            refused.add(item.intake_id)
        elif item.head.type == "registry.published":
            registries.note(item)
    if refused:
        drained.parsed = [p for p in drained.parsed if p.intake_id not in refused]
