"""Circuit breakers: `ledger serve` stops a scope after repeated trips of one rule.

A pack's `breakers: [{rule, trips, window_seconds, stop}]` is the seed's "pause on behavioural
regressions". Why in `ledger serve`, not in agent processes: the agent host may be hostile and
holds only writer credentials (writers can never record a stop, ledger.store.controlplane),
and a count spread over many processes must be kept once. So one plug-in thread beside the
sequencer follows what is sequenced (LISTEN ledger_appended, a poll as fallback, its position
per log kept in memory: it counts what is sequenced after it starts). With several
`ledger serve` processes one follows (a session advisory lock); the others stand by.

A *trip* is a sequenced, well-formed `policy.decided` (PolicyDecidedData; a malformed one is
skipped with one warning) under the pack in force whose `rules` include the breaker's `rule`
with outcome `deny` or `require_approval` AND which the shared evaluator (replay.policy.precall
`decide`, as replay.policy.enforcement) re-derives from the recorded basis: the decision is the
writer's claim, so a forged one (another pack, an objection the pack would not make) counts for
nothing. A writer may still overstate its own basis and stop itself; a `tenant` or `tool` stop
(halting other agents too) needs trips from two distinct agents. In enforce OR shadow mode:
in shadow nothing blocks the call, so the breaker is the only thing that halts a regressing
agent during a staged rollout (a pack that must never stop anything in shadow simply lists no
breakers). Breakers are those of the
pack in force for the decision's run (replay.policy.inforce: its own log, by the run's first
seq and the pack's scope), never of the pack the decision names. Trips are grouped per breaker
by the `stop` scope key of the run: run:<id>, agent:<name>, agent:<name>@<version>,
tenant:<t>, tool:<tool>. When `trips` of them fall within `window_seconds` of each other, by
the sequencer's `recorded_at` (never a writer's clock), ONE stop of that target is recorded
through ledger.stops.request_stop by the ledger service (ledger.service_key): signed with the
key whose public half is the registry's `service_key`, `asserted` when no registry is in
force. While that target's stop is in force nothing re-trips; after `ledger resume` only trips
sequenced after the lift count (the window starts over).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg

from ledger.authority.trust import TrustRoot, trust_root
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.errors import LedgerError
from ledger.events import PolicyDecidedData
from ledger.note import Signer
from ledger.serve import ServeContext
from ledger.service_key import SERVICE_NAME, load_service_signer
from ledger.stops import request_stop
from ledger.stoptargets import agent_target, glob_literal
from ledger.store.breakers import (
    Decision,
    decisions_after,
    heads,
    last_stop,
    try_lead,
    wakeups,
)
from ledger.store.breakers import listen as listen_appended
from ledger.store.policies import PublishedPolicy
from ledger.terminal import printable
from replay.policy.inforce import PacksInForce
from replay.policy.loader import load_pack_data
from replay.policy.precall import CompiledPreCall, LiveBasis, Proposed, compile_precall, decide
from replay.policy.schema import Breaker

__all__ = ["POLL_SECONDS", "Breakers", "Follower", "reevaluated", "scope_target"]

POLL_SECONDS = 1.0  # the fallback when a notification is lost
TRIP_OUTCOMES = frozenset({"deny", "require_approval"})
_log = logging.getLogger("ledger.serve.breakers")


def scope_target(stop: str, event: dict[str, Any]) -> str | None:
    """The stop target of a breaker's `stop` key for the run a decision event belongs to, or
    None when the run does not record what the key needs (an agent without a version)."""
    agent = event.get("agent") or {}
    name, version = agent.get("name"), agent.get("version")
    data = event.get("data") or {}
    if stop == "run":
        return f"run:{event.get('run_id')}"
    if stop == "agent":
        return agent_target(str(name)) if name else None
    if stop == "agent_version":
        return agent_target(str(name), str(version)) if name and version else None
    if stop == "tenant":
        return f"tenant:{event.get('tenant', 'default')}"
    if stop == "tool":
        return f"tool:{glob_literal(str(data['tool']))}" if data.get("tool") else None
    return None


def _obj(event: dict[str, Any], key: str) -> dict[str, Any]:
    """An object field of a writer's event, {} when it is anything else."""
    found = event.get(key)
    return found if isinstance(found, dict) else {}


def reevaluated(
    pre: CompiledPreCall, data: PolicyDecidedData, event: dict[str, Any]
) -> set[tuple[str, str]]:
    """The (rule, outcome) objections the pack in force gives from the decision's recorded
    basis, with the shared evaluator (as replay.policy.enforcement does): a writer's claim
    counts only where the pack would make it. The args are not recorded (only their hash), so
    rules that need them (recipients, egress, amounts, CEL over args) cannot be confirmed and
    never trip a breaker; rules over the basis and the tool name can."""
    agent = _obj(event, "agent")
    versions = _obj(event, "versions")
    principal = _obj(event, "principal")
    basis = LiveBasis.from_json(data.basis.model_dump(mode="json"))
    proposed = Proposed(
        tool=data.tool, args={}, args_hash=data.args_hash, tool_call_id=data.tool_call_id,
        run_id=str(event.get("run_id")), agent=agent.get("name"), version=agent.get("version"),
        tenant=str(event.get("tenant") or "default"), model=versions.get("model"),
        user=principal.get("initiating_user"), roles=tuple(principal.get("roles") or ()),
    )  # fmt: skip
    return {(rule, outcome) for rule, outcome, _, _ in decide(pre, basis, proposed).hits}


SHARED_SCOPES = frozenset({"tenant", "tool"})  # a stop that halts more than the agent tripping


def _enough(breaker: Breaker, window: deque[tuple[int, datetime, str]]) -> bool:
    """`trips` trips in the window; for a tenant- or tool-wide stop also from at least two
    distinct agents. Why: trips are the agents' own claims, and one agent's writer (confined to
    its agent by its binding) may overstate its own basis: it may stop itself (run, agent,
    agent_version), never by itself every other agent of its tenant."""
    if len(window) < breaker.trips:
        return False
    return breaker.stop not in SHARED_SCOPES or len({a for _, _, a in window}) >= 2


@dataclass
class _Window:
    """The trips of one breaker on one target, oldest first: (seq, recorded_at)."""

    seconds: float
    trips: deque[tuple[int, datetime, str]] = field(default_factory=deque)  # + agent name


class Follower:
    """Follows decisions in every log and records the stops breakers call for.

    One per `ledger serve`; not thread-safe (its thread alone uses it)."""

    def __init__(
        self, conn: psycopg.Connection, settings: Settings, *,
        root: TrustRoot | None, signer: Signer | None,
    ) -> None:  # fmt: skip
        self.conn, self.settings, self.root, self.signer = conn, settings, root, signer
        self.positions: dict[str, int] = heads(conn)  # only what is sequenced from now on
        self.windows: dict[tuple[str, str, str, int], _Window] = {}
        self.breakers: dict[str, tuple[tuple[Breaker, ...], CompiledPreCall | None]] = {}
        self.recorded: set[tuple[str, str]] = set()  # stops this follower asked for

    def catch_up(self, origin: str | None = None) -> int:
        """Read the decisions sequenced since the last position of `origin` (None: every log);
        returns how many were read."""
        packs = PacksInForce(self.conn)  # publications read afresh on each wake-up
        origins = [origin] if origin else list(heads(self.conn))
        read = 0
        for log in origins:
            while True:
                batch = decisions_after(self.conn, log, self.positions.get(log, 0))
                for decision in batch:
                    try:
                        self.count(packs, log, decision)
                    except psycopg.OperationalError:
                        raise  # the connection is gone: not this decision's fault, retry it
                    except Exception as exc:  # one decision never ends the breakers
                        _log.warning("breakers: decision at %s seq %d not counted: %s",
                                     printable(log), decision.seq,
                                     printable(str(exc).splitlines()[0] if str(exc) else
                                               type(exc).__name__))
                    self.positions[log] = decision.seq + 1
                read += len(batch)
                if len(batch) < 500:
                    break
        if read:
            self._forget_stale()
        return read

    def _forget_stale(self) -> None:
        """Drop windows whose newest trip has left its window: memory stays bounded by the
        targets tripping now, not by every run ever seen."""
        newest = max((w.trips[-1][1] for w in self.windows.values() if w.trips), default=None)
        self.windows = {
            key: w for key, w in self.windows.items()
            if w.trips and newest is not None
            and (newest - w.trips[-1][1]).total_seconds() <= w.seconds
        }  # fmt: skip

    def _loaded(self, pub: PublishedPolicy) -> tuple[tuple[Breaker, ...], CompiledPreCall | None]:
        """(breakers, pre-call rules) of a published pack, loaded once per hash."""
        found = self.breakers.get(pub.policy_hash)
        if found is None:
            try:
                loaded = load_pack_data(pub.document)
                found = (loaded.pack.breakers, compile_precall(loaded))
            except LedgerError:
                found = ((), None)  # a pack that no longer loads has no breakers
            self.breakers[pub.policy_hash] = found
        return found

    def count(self, packs: PacksInForce, origin: str, decision: Decision) -> None:
        """Count one sequenced decision; a malformed one (the writer's body: the sequencer
        checks only an event's head) is skipped with one warning line, never fatal."""
        try:
            event = orjson.loads(decision.body)
            data = PolicyDecidedData.model_validate(event.get("data"))
        except (ValueError, TypeError, AttributeError) as exc:  # ValidationError is a ValueError
            _log.warning("breakers: skipped malformed policy.decided at %s seq %d: %s",
                         printable(origin), decision.seq, printable(str(exc).splitlines()[0]))
            return
        self._count(packs, origin, decision, event, data)

    def _count(self, packs: PacksInForce, origin: str, decision: Decision,
               event: dict[str, Any], data: PolicyDecidedData) -> None:
        hit = {(r.id, r.outcome) for r in data.rules if r.outcome in TRIP_OUTCOMES}
        if not hit:
            return
        agent = _obj(event, "agent")
        first = decision.first_seq if decision.first_seq is not None else decision.seq
        pub = packs.in_force(origin, first, agent.get("name"), agent.get("version"))
        if pub is None or data.pack_hash != pub.policy_hash:
            return  # a claim under another pack than the one in force counts for nothing
        breakers, pre = self._loaded(pub)
        hit &= reevaluated(pre, data, event) if breakers and pre is not None else set()
        rules = {rule for rule, _ in hit}
        for index, breaker in enumerate(breakers):
            target = scope_target(breaker.stop, event) if breaker.rule in rules else None
            if target is not None:
                key = (origin, target, pub.policy_hash, index)
                self._trip(key, breaker, decision, str(event.get("tenant", "default")),
                           str(agent.get("name")))

    def _trip(
        self, key: tuple[str, str, str, int], breaker: Breaker, decision: Decision, tenant: str,
        agent: str,
    ) -> None:
        window = self.windows.setdefault(key, _Window(breaker.window_seconds)).trips
        window.append((decision.seq, decision.recorded_at, agent))
        while (decision.recorded_at - window[0][1]).total_seconds() > breaker.window_seconds:
            window.popleft()
        if not _enough(breaker, window):
            return
        origin, target = key[0], key[1]
        last = last_stop(self.conn, origin, target)
        if (last is not None and last.lifted_seq is None) or (
            last is None and (origin, target) in self.recorded
        ):
            window.clear()  # in force: no second stop
            return
        if last is not None and last.lifted_seq is not None:
            while window and window[0][0] <= last.lifted_seq:
                window.popleft()  # after a lift the window starts over
            if not _enough(breaker, window):
                return
        count = len(window)
        window.clear()
        self._stop(origin, tenant, target, breaker, count)

    def _stop(self, origin: str, tenant: str, target: str, breaker: Breaker, count: int) -> None:
        window = f"{breaker.window_seconds:g}"
        reason = (f"breaker {{rule: {breaker.rule}, trips: {breaker.trips}, window_seconds: "
                  f"{window}, stop: {breaker.stop}}}: {count} trips of {breaker.rule} within "
                  f"{window} s")  # fmt: skip
        who = self.signer.name if self.signer is not None else SERVICE_NAME
        try:
            done = request_stop(
                self.conn, self.settings, target=target, reason=reason, requested_by=who,
                signer=self.signer, root=self.root, tenant=tenant, via="breaker", service=True,
            )  # fmt: skip
        except LedgerError as exc:
            _log.warning("breaker did not stop %s in %s: %s", target, origin, exc)
            return
        self.recorded.add((origin, target))
        _log.info("breaker stopped %s in %s (%s): %s", target, origin, done.authority, reason)


class Breakers:
    """The `agent_ledger.serve` plug-in: one thread, its own connections, until serve ends."""

    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self.ready = threading.Event()  # set once positions are read (tests wait on it)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.follower: Follower | None = None  # its thread's, readable for progress

    def start(self, context: ServeContext) -> None:
        root = trust_root()  # a malformed LEDGER_TRUST_ROOT / LEDGER_SERVICE_KEY fails serve now
        signer = load_service_signer(context.settings)
        self._thread = threading.Thread(
            target=self._run, args=(context, root, signer), name="ledger-breakers", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(10)

    def _keep_going(self, context: ServeContext) -> bool:
        return not (self._done.is_set() or context.stop.is_set())

    @staticmethod
    def _catch_up(follower: Follower, origin: str | None) -> None:
        try:
            follower.catch_up(origin)
        except psycopg.OperationalError:
            raise  # the connection is gone: _run logs it at error level
        except Exception as exc:  # one bad wake-up must not end the breakers
            _log.warning("breakers: %s", printable(str(exc).splitlines()[0] if str(exc)
                                                   else type(exc).__name__))

    def _run(self, context: ServeContext, root: TrustRoot | None, signer: Signer | None) -> None:
        try:
            with connect(context.settings) as conn, connect(context.settings) as listen:
                while not try_lead(conn):  # another serve's breakers count: stand by
                    if not self._keep_going(context):
                        return
                    self._done.wait(self.poll_seconds)
                listen_appended(listen)  # before the positions: no batch falls between
                follower = Follower(conn, context.settings, root=root, signer=signer)
                self.follower = follower
                self.ready.set()
                for origin in wakeups(listen, self.poll_seconds, lambda: self._keep_going(context)):
                    self._catch_up(follower, origin or None)
        except Exception as exc:  # the thread never dies silently
            _log.error("breakers stopped following the log: %s",
                       printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        finally:
            self.ready.set()
