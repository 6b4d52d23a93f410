"""The pack a run is judged against: the one in force in its own log, not the one it names.

A run's `versions.policy_hash` is the writer's word. Judging a run by the pack it names let a
hostile writer pick the most lenient pack ever published, in any tenant (the lookup by hash
spans every log). The pack in force for a run is the last `policy.published` of the run's own
origin recorded (by `seq`) before the run's first event whose `scope` matches the run (agent,
agent version, tenant; a pack without `scope` matches every run, replay.policy.scoping).
A run naming another pack is judged by
the pack in force and gets a failing `policy.in_force` verdict naming both ("run names pack X,
pack in force was Y"): running under a pack other than the one in force is a deviation the
record shows, not an unknown. A run of a log where no pack was in force yet is `unknown`, as a
run naming an unpublished pack was before.
"""

from __future__ import annotations

import bisect
from typing import Any

import psycopg

from ledger.store.policies import PublishedPolicy, published_policies_in
from replay.policy import CompiledPack, Verdict
from replay.policy import compile_pack as _compile
from replay.policy.loader import load_pack_data
from replay.policy.scoping import scope_matches

__all__ = ["PacksInForce", "run_started"]

RULE = "policy.in_force"


def run_started(first_type: str, first_event: str) -> tuple[Verdict, ...]:
    """`capture.run_started` fails a run whose first event is not run.started, whatever the
    pack: such a run is listed by `ledger check` (never hidden by leaving run.started out), and
    without run.started its principal, versions and start time are not recorded."""
    if first_type == "run.started":
        return ()
    why = f"the run's first event is {first_type}, not run.started"
    return (Verdict("capture.run_started", "fail", why, (first_event,)),)


class PacksInForce:
    """Publications per log, read once per log, and packs compiled once per hash."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.published: dict[str, tuple[list[int], list[PublishedPolicy]]] = {}
        self.compiled: dict[str, CompiledPack] = {}

    def in_force(
        self, origin: str, first_seq: int, agent: str | None = None, version: str | None = None
    ) -> PublishedPolicy | None:
        """The last pack published in `origin` before `first_seq` whose scope covers a run of
        `agent`@`version` in `origin`, or None."""
        found = self.published.get(origin)
        if found is None:
            pubs = published_policies_in(self.conn, origin)
            found = self.published[origin] = ([p.seq for p in pubs], pubs)
        seqs, pubs = found
        at = bisect.bisect_left(seqs, first_seq)
        tenant = origin.rsplit("/", 1)[-1]  # a log's origin is <prefix>/<tenant>
        for pub in reversed(pubs[:at]):
            if scope_matches(pub.document, agent, version, tenant):
                return pub
        return None

    def pack(self, pub: PublishedPolicy) -> CompiledPack:
        compiled = self.compiled.get(pub.policy_hash)
        if compiled is None:
            loaded = load_pack_data(pub.document, f"<ledger policy {pub.policy_hash[:12]}>")
            compiled = self.compiled[pub.policy_hash] = _compile(loaded)
        return compiled

    def judge(
        self, origin: str, first_seq: int, seen: tuple[str, ...], first_event: str, *,
        agent: str | None = None, version: str | None = None,
    ) -> tuple[CompiledPack | None, tuple[Verdict, ...]]:
        """(the pack in force or None, verdicts about the pack the run names)."""
        pub = self.in_force(origin, first_seq, agent, version)
        named = seen[0] if seen else None
        if pub is None:
            why = f"names pack {named[:12]}" if named else "records no policy_hash"
            return None, (Verdict(RULE, "unknown", f"run {why}; no pack was in force in log "
                                  f"{origin} when it started", (first_event,)),)
        if named is None:
            return self.pack(pub), (Verdict(
                RULE, "unknown", f"run records no policy_hash; pack in force was "
                f"{pub.policy_hash[:12]}", (first_event,)),)
        if named != pub.policy_hash:
            return self.pack(pub), (Verdict(
                RULE, "fail", f"run names pack {named[:12]}, pack in force was "
                f"{pub.policy_hash[:12]}", (first_event, str(pub.event_id))),)
        return self.pack(pub), ()
