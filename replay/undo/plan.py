"""Generate an UndoPlan from recorded events: a pure function of events, contracts, time, probes.

Nothing here touches a database or a clock: callers pass the events in scope, any later events
from other runs (for drift), `now`, and the results of read-only probes they already ran. The
same inputs always give the same plan and therefore the same digest, so a reviewer can
regenerate a plan and check it. Ordering follows DESIGN §8: per resource, the latest change is
undone first; independent resources share a parallel group; containment comes first and
human-facing notices last; drift and expired windows turn steps manual or downgrade them.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ledger import ids
from ledger.canonical import content_hash
from ledger.events import EventBase
from replay.undo.actions import Action, collect_actions, precondition, probe_key, probe_requests
from replay.undo.contracts import ContractRegistry, render
from replay.undo.model import ProbeCheck, ResidueItem, UndoPlan, UndoStep

__all__ = ["Action", "collect_actions", "generate_plan", "probe_key", "probe_requests"]


@dataclasses.dataclass
class _Choice:
    strategy: str
    op: str | None = None
    args: Any = None
    deadline: str | None = None
    downgraded: str | None = None
    effect: str | None = None
    residue: str | None = None


def _strategy(action: Action, now_ns: int, notes: list[str]) -> _Choice:
    """What to do for one action, before drift is considered."""
    c = action.contract
    if action.ended is None:
        notes.append("intent without outcome: probe the resource, do not assume the call ran")
        return _Choice("manual")
    if action.ended.data.status != "ok":
        notes.append("the call ended with an error: check whether it had a partial effect")
        return _Choice("manual")
    comp = c.compensation
    op, template, strategy = (comp.op, comp.args_template, "") if comp else (None, {}, "")
    deadline: str | None = None
    downgraded: str | None = None
    residue: str | None = None
    effect: str = c.effect_class
    if c.window is not None:
        deadline_ns = action.ended.occurred_ns() + c.window.seconds * 1_000_000_000
        deadline = ids.format_timestamp(deadline_ns)
        if now_ns > deadline_ns:
            expiry = c.window.on_expiry
            downgraded, effect = effect, expiry.effect_class
            op, template, residue = expiry.op, expiry.args_template, expiry.residue
            notes.append(
                f"undo window {c.window.duration} expired at {deadline}: "
                f"{downgraded} downgraded to {effect}"
            )
    if effect == "reversible":
        if action.ctx["pre_state"] is None:
            notes.append("pre-state was not captured: cannot restore automatically")
            return _Choice("manual", op, None, deadline, downgraded, effect, residue)
        strategy = "restore_pre_state"
    elif effect == "compensable":
        strategy = "compensate"
    else:
        strategy = "mitigate"
    if op is None:
        return _Choice("manual", None, None, deadline, downgraded, effect, residue)
    try:
        args = render(template, action.ctx)
    except KeyError as exc:
        notes.append(f"argument template needs {exc.args[0]}, which the call did not record")
        return _Choice("manual", op, None, deadline, downgraded, effect, residue)
    return _Choice(strategy, op, args, deadline, downgraded, effect, residue)


def _foreign_touches(
    others: Sequence[EventBase], registry: ContractRegistry, scope_runs: set[uuid.UUID]
) -> list[Action]:
    return [a for a in collect_actions(others, registry) if a.started.run_id not in scope_runs]


def _levels(ids_: list[str], deps: Mapping[str, set[str]]) -> list[list[str]]:
    """Kahn levels restricted to `ids_` (dependencies outside the set are already ordered)."""
    inside = set(ids_)
    pending = {i: {d for d in deps.get(i, set()) if d in inside} for i in ids_}
    levels: list[list[str]] = []
    while pending:
        ready = sorted(i for i, d in pending.items() if not d)
        if not ready:  # a cycle cannot arise from time order; keep going deterministically
            ready = [sorted(pending)[0]]
        levels.append(ready)
        for i in ready:
            del pending[i]
        for d in pending.values():
            d.difference_update(ready)
    return levels


@dataclasses.dataclass
class _Graph:
    """What classification found: step ids, resources touched, ordering, drift, probes."""

    sid: dict[str, str]  # action id -> step id
    by_resource: dict[str, list[Action]]  # in call order
    deps: dict[str, set[str]]  # step id -> step ids that must be undone first
    drifted: dict[str, list[str]]  # action id -> why it drifted
    checks: dict[str, ProbeCheck]  # action id -> its precondition, with the observation


def _dependencies(
    actions: Sequence[Action], by_resource: Mapping[str, list[Action]], sid: Mapping[str, str]
) -> dict[str, set[str]]:
    """Per resource the later change is undone first; a call whose args hold an earlier call's
    result id is undone before that call."""
    deps: dict[str, set[str]] = defaultdict(set)
    for chain in by_resource.values():
        for earlier, later in itertools.pairwise(chain):
            deps[sid[earlier.action_id]].add(sid[later.action_id])
    produced: dict[str, Action] = {}
    for a in actions:
        res: Any = a.ctx["result"]
        values = list(a.ended.data.result_ids) if a.ended is not None else []
        if isinstance(res, dict):
            values += [v for v in res.values() if isinstance(v, str) and len(v) >= 4]
        for v in values:
            produced.setdefault(v, a)
    for a in actions:
        argv: Any = a.ctx["args"]
        for v in argv.values() if isinstance(argv, dict) else ():
            src = produced.get(v) if isinstance(v, str) else None
            if src is not None and src.index < a.index:
                deps[sid[src.action_id]].add(sid[a.action_id])
    return deps


def _foreign_drift(
    foreign: Sequence[Action], by_resource: Mapping[str, list[Action]]
) -> dict[str, list[str]]:
    """Actions whose resource another run changed later (from the ledger)."""
    drifted: dict[str, list[str]] = defaultdict(list)
    for f in foreign:
        for r in f.resources:
            for a in by_resource.get(r, ()):
                if f.started.occurred_ns() > a.started.occurred_ns():
                    drifted[a.action_id].append(
                        f"{r} changed later by run {f.started.run_id} "
                        f"({f.actor or 'unknown actor'})"
                    )
    return drifted


def _observed(check: ProbeCheck, probes: Mapping[str, Any]) -> ProbeCheck:
    """The precondition with what its probe returned (unchanged when it was not probed)."""
    if check.key not in probes:
        return check
    observed = probes[check.key]
    if isinstance(observed, dict) and "__error__" in observed:
        status = "error"
    else:
        status = "match" if observed == check.expect else "mismatch"
    return check.model_copy(update={"status": status, "observed": observed})


def _classify(
    actions: Sequence[Action], foreign: Sequence[Action], probes: Mapping[str, Any]
) -> _Graph:
    """Resources, ordering, drift (other runs, probes) and preconditions of the actions."""
    by_resource: dict[str, list[Action]] = defaultdict(list)
    for a in actions:
        for r in a.resources:
            by_resource[r].append(a)
    sid = {a.action_id: f"s{a.index:04d}" for a in actions}
    drifted = _foreign_drift(foreign, by_resource)
    checks: dict[str, ProbeCheck] = {}
    for r, chain in by_resource.items():
        last = chain[-1]
        check = precondition(last)
        if check is None:
            continue
        check = checks[last.action_id] = _observed(check, probes)
        if check.status == "mismatch":
            drifted[last.action_id].append(
                f"{r} is no longer as the agent left it "
                f"(expected {check.expect!r}, found {check.observed!r})"
            )
    for chain in by_resource.values():  # drift on a resource blocks every earlier step on it
        hit = False
        for a in reversed(chain):
            if hit and not drifted.get(a.action_id):
                drifted[a.action_id].append("a later change to the same resource drifted")
            hit = hit or bool(drifted.get(a.action_id))
    return _Graph(sid, by_resource, _dependencies(actions, by_resource, sid), drifted, checks)


def _compensate(a: Action, graph: _Graph, now_ns: int) -> dict[str, Any]:
    """The step for one action: its strategy, operation, residue and phase (fields)."""
    notes: list[str] = [f"contract {a.how}"] if a.how != "recorded" else []
    choice = _strategy(a, now_ns, notes)
    strategy = choice.strategy
    if graph.drifted.get(a.action_id):
        notes += graph.drifted[a.action_id]
        strategy = "manual"
    c, step_id = a.contract, graph.sid[a.action_id]
    comp = c.compensation
    effectiveness = comp.effectiveness if comp else "mitigation_only"
    residue = choice.residue or (comp.residue if comp and comp.residue else None) or c.residue
    if strategy in ("mitigate", "manual") and not residue:
        residue = f"{a.tool}: effect not undone automatically"
    if strategy == "restore_pre_state" and effectiveness == "full" and not choice.residue:
        residue = comp.residue if comp else None
    if strategy == "manual":
        phase = "manual"
    else:
        phase = "notify" if c.human_observable or strategy == "mitigate" else "restore"
    return dict(
        step_id=step_id,
        target_action_id=a.action_id,
        run_id=a.ctx["run_id"],
        tool_call_id=a.ctx["tool_call_id"],
        tool=a.tool,
        contract_digest=a.digest,
        contract_source=a.how,
        effect_class=choice.effect or c.effect_class,
        strategy=strategy,
        phase=phase,
        op=choice.op,
        args=choice.args,
        idempotency_key=content_hash({"compensates": a.action_id, "op": choice.op}),
        resources=a.resources,
        depends_on=tuple(sorted(graph.deps.get(step_id, ()))),
        preconditions=(graph.checks[a.action_id],) if a.action_id in graph.checks else (),
        window_deadline=choice.deadline,
        downgraded_from=choice.downgraded,
        drift=tuple(graph.drifted.get(a.action_id, ())),
        effectiveness=effectiveness,
        residue=residue,
        runbook=c.runbook,
        human_facing=c.human_observable,
        approvals=c.approval,
        max_attempts=comp.max_attempts if comp else 1,
        original_actor=a.actor,
        notes=tuple(notes),
    )


def _containment(live: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """A first step per run without run.ended: stop the agent before undoing what it did."""
    return [
        dict(
            step_id=f"c{n:04d}",
            target_action_id=str(run_id),
            run_id=str(run_id),
            tool_call_id="-",
            tool="agent",
            contract_digest=None,
            contract_source="containment",
            effect_class="unknown",
            strategy="contain",
            phase="containment",
            op=None,
            args=None,
            idempotency_key=content_hash({"contain": str(run_id)}),
            runbook="the run has no run.ended: stop the agent and revoke its credentials first",
            notes=("contain first: the agent may still be acting",),
        )
        for n, run_id in enumerate(live)
    ]


def _order(
    contain: Sequence[Mapping[str, Any]],
    raw: Mapping[str, Mapping[str, Any]],
    deps: Mapping[str, set[str]],
) -> list[list[str]]:
    """Parallel groups: containment, then restores, notices and manual steps, each in
    dependency levels (latest first)."""
    groups: list[list[str]] = [[c["step_id"] for c in contain]] if contain else []
    for phase in ("restore", "notify", "manual"):
        members = [i for i, s in raw.items() if s["phase"] == phase]
        groups += _levels(sorted(members, key=lambda i: -int(i[1:])), deps)
    return groups


def _residue(steps: Sequence[UndoStep]) -> tuple[ResidueItem, ...]:
    """What stays changed after the plan, with its runbook."""
    return tuple(
        ResidueItem(
            step_id=s.step_id,
            tool=s.tool,
            target_action_id=s.target_action_id,
            residue=s.residue,
            runbook=s.runbook,
        )
        for s in steps
        if s.residue and s.strategy != "contain"
    )


def _summary(steps: Sequence[UndoStep], actions: Sequence[Action]) -> dict[str, int]:
    summary: dict[str, int] = defaultdict(int)
    for s in steps:
        summary[s.strategy] += 1
    summary["side_effecting_calls"] = len(actions)
    summary["drifted"] = sum(1 for s in steps if s.drift)
    summary["downgraded"] = sum(1 for s in steps if s.downgraded_from)
    return dict(sorted(summary.items()))


def generate_plan(
    events: Sequence[EventBase],
    registry: ContractRegistry,
    *,
    now: str,
    scope: Mapping[str, Any],
    probe_results: Mapping[str, Any] | None = None,
    others: Sequence[EventBase] = (),
    created_by: str | None = None,
    reason: str | None = None,
) -> UndoPlan:
    """Build the plan: classify the side-effecting calls (resources, order, drift, probes),
    compensate each, order the steps into groups, and list the residue. `probe_results` maps
    probe_key -> observed value (or a dict with key `__error__`); `others` are later events
    outside the scope (drift from other actors)."""
    now_ns = ids.parse_timestamp(now)
    actions = [a for a in collect_actions(events, registry) if a.side_effect]
    scope_runs = {e.run_id for e in events}
    foreign = _foreign_touches(others, registry, scope_runs)
    graph = _classify(actions, foreign, probe_results or {})
    raw = {graph.sid[a.action_id]: _compensate(a, graph, now_ns) for a in actions}
    ended_runs = {e.run_id for e in events if e.type == "run.ended"}
    live = sorted({uuid.UUID(a.ctx["run_id"]) for a in actions} - ended_runs, key=str)
    contain = _containment(live)
    groups = _order(contain, raw, graph.deps)
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    steps = [UndoStep(**{**s, "group": group_of[s["step_id"]]}) for s in contain]
    steps += [UndoStep(**{**s, "group": group_of[i]}) for i, s in sorted(raw.items())]
    scope_json = dict(scope)
    return UndoPlan(
        plan_id=content_hash({"scope": scope_json})[:32],
        scope=scope_json,
        created_at=now,
        created_by=created_by,
        reason=reason,
        steps=tuple(steps),
        groups=tuple(tuple(g) for g in groups),
        residue=_residue(steps),
        original_actors=tuple(sorted({a.actor for a in actions if a.actor})),
        original_approvers=tuple(sorted({x for a in actions for x in a.approvers})),
        contracts={a.tool: a.digest for a in actions if a.digest is not None},
        summary=_summary(steps, actions),
    )
