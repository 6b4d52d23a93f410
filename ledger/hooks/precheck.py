"""The decision before a tool call, recorded with the call's intent (issue 16, DESIGN §14).

Why one acknowledgement: the proof after the fact (`enforcement.decisions`) needs the decision
stored before the call, and the agent already waits for the durable intent; so the decision and
the intent are queued together (`Writer.enqueue_many`) and land in one batch, one statement, one
transaction: decision first in run order. Deny records the decision only (the call never
happened) and raises `PolicyDenied`; require_approval records the decision and an
`approval.requested` bound to the pending tool_call_id and args_hash, waits up to the pack's
`approval_wait_seconds` for a decision (honouring stops meanwhile), then runs the call under a
new decision citing the approval, or raises `ApprovalRequired`. A retry with the same tool and
args reuses the pending tool_call_id and approval, also from another process resuming the run
(looked up through the read API `ledger_call_approvals`).

Fail closed: a run whose pinned pack enforces a rule, in a process that cannot confirm what is
in force (the live cache stale for more than 3 x LEDGER_LIVE_POLL and a fresh read failing),
has its side-effecting calls denied.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from ledger import ids
from ledger.db.sqlfiles import query
from ledger.db.watchdog import guard
from ledger.hooks.approval_authority import ApprovalRow, approver_standing
from ledger.hooks.enforce import ZERO, RunEnforcement
from ledger.hooks.errors import (
    ApprovalRequired,
    LedgerUnavailable,
    LiveControl,
    PolicyDenied,
)
from ledger.hooks.guard import Decision, ProposedCall
from ledger.hooks.setup import ack_timeout

if TYPE_CHECKING:
    from ledger.hooks.encoding import Ack, Pending
    from ledger.hooks.runs import Run

__all__ = ["Intent", "decide_and_start"]

log = logging.getLogger("ledger.hooks")
APPROVAL_POLL = 0.1  # seconds between reads of the approval being waited for
UNCONFIRMED = "live.pack_unconfirmed"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Intent:
    """What the call's tool.call.started needs, built by ledger/hooks/tools.py."""

    tool: str
    args: Any
    args_hash: str
    side_effect: bool
    contract_digest: str | None
    build: Callable[[str], dict[str, Any]]  # tool_call_id -> tool.call.started data
    pending: Callable[[str, dict[str, Any]], Pending]  # -> the gated, acknowledged Pending


def _grant(run: Run, enf: RunEnforcement, key: tuple[str, str], runs: str,
           conn: Any = None) -> dict[str, Any] | None:
    """The approval recorded for the held call, as the guard's basis wants it (or None);
    `key` is the request's (tool, args_hash as requested), `runs` the args_hash of the args
    about to run: an approval releases exactly its effective args (the edited ones for an
    edit, never the original). Read on `conn` when given (the wait loop keeps one), else on a
    short-lived connection. Roles and `signed` are never the event's word: the signature is
    verified over the call and the roles read from the registry (approval_authority.py)."""
    held = enf.pending.get(key)
    if held is None:
        return None
    if conn is None:
        with run.writer.live.connection() as own:
            return _grant(run, enf, key, runs, own)
    params = (enf.origin, run.run_id, key[0], key[1])
    rows = conn.execute(query("hooks_call_approvals"), params).fetchall()
    for aid, call_id, _req, decided, decision, approver, _roles, _s, dh, eh, *signed in rows:
        effective = eh if decision == "edited" else dh
        if (aid, call_id) == (held[1], held[0]) and decision in ("approved", "edited") \
                and effective == runs:
            roles, verified = approver_standing(
                run.writer.live, conn, origin=enf.origin, run_id=run.run_id,
                tool_call_id=held[0], tool=key[0], args_hash=runs,
                row=ApprovalRow(decision, approver, *signed))
            return {"approval_id": aid, "decided_event_id": str(decided), "approver": approver,
                    "roles": roles, "signed": verified}
    return None


def _held_call(run: Run, enf: RunEnforcement, key: tuple[str, str]) -> None:
    """A run resumed in this process: find a call held for approval before (read API)."""
    if key in enf.pending or not enf.resumed or key in enf.looked_up:
        return
    enf.looked_up.add(key)
    rows = run.writer.live.fetch(query("hooks_call_approvals"),
                                 (enf.origin, run.run_id, key[0], key[1]))
    ran = run.__dict__.get("_released_calls", frozenset())  # read by ledger.resume
    rows = [r for r in rows if str(r[1]) not in ran]  # an approval releases one call
    if rows:
        enf.pending[key] = (str(rows[0][1]), str(rows[0][0]))


def _read(intent: Intent, read: Callable[[], _T]) -> _T:
    """A read the decision depends on (the held request, its approval): a failure to read
    refuses the call (fail closed, LedgerUnavailable) rather than deciding without it, and is
    not a plain DatabaseUnavailable a framework handler would log and run the body past."""
    try:
        return read()
    except (LiveControl, LedgerUnavailable):
        raise
    except Exception as exc:
        raise LedgerUnavailable(f"cannot read the approvals of tool {intent.tool!r}: "
                                f"{type(exc).__name__}; not run") from exc


def _request_key(enf: RunEnforcement, key: tuple[str, str],
                 call_id: str) -> tuple[str, str] | None:
    """The (tool, requested args_hash) of the request held for `call_id`: the call's own key,
    or, for a call run with an approver's edited args, the key of the original request."""
    if enf.pending.get(key, ("",))[0] == call_id:
        return key
    return next((k for k, held in enf.pending.items()
                 if k[0] == key[0] and held[0] == call_id), None)


def _check(run: Run, enf: RunEnforcement, intent: Intent, tool_call_id: str,
           approval: Mapping[str, Any] | None) -> Decision:
    call = ProposedCall(
        run_id=run.run_id, tool=intent.tool, args=intent.args, side_effect=intent.side_effect,
        principal=run.user, agent=run.agent, tool_call_id=tool_call_id,
        pack_hash=enf.pack_hash, pack_document=enf.document,
        basis=enf.basis(run, intent.tool, intent.args_hash, approval),
        facts={"args_hash": intent.args_hash, "contract_digest": intent.contract_digest,
               "attempt": 1, "version": run.envelope["agent"]["version"],
               "tenant": run.tenant, "model": run.envelope["versions"]["model"],
               "roles": list(run.roles)})
    try:
        decision: Decision = enf.guard.check(call)
    except Exception as exc:  # the guard failed: the call does not run
        return Decision(False, f"policy guard failed: {type(exc).__name__}: {exc}", "policy",
                        "deny", _own_data(enf, intent, tool_call_id, basis=call.basis or {},
                                          rule="policy.guard_failed", reason=str(exc)))
    return decision


def _own_data(enf: RunEnforcement, intent: Intent, tool_call_id: str, *,
              basis: Mapping[str, Any], rule: str, reason: str) -> dict[str, Any]:
    """A deny the hooks decide themselves (pack unconfirmed, guard failure)."""
    return {"tool_call_id": tool_call_id, "tool": intent.tool, "args_hash": intent.args_hash,
            "decision": "deny", "would_be": "deny", "mode": "enforce",
            "pack_hash": enf.pack_hash,
            "rules": [{"id": rule, "outcome": "deny", "reason": reason, "mode": "enforce"}],
            "approval_id": None, "basis": dict(basis), "evaluator": "hooks/1"}


def _rules(data: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    blocking = [r for r in data.get("rules") or () if r.get("mode", "enforce") == "enforce"]
    return (tuple(str(r["id"]) for r in blocking), tuple(str(r["reason"]) for r in blocking))


def _durable(ack: Future[Ack] | None) -> None:
    """Wait for the decision's acknowledgement (errors are the caller's to raise over)."""
    if ack is not None:
        try:
            ack.result(ack_timeout())
        except Exception as exc:  # the decision is spooled at worst; the call is refused anyway
            log.debug("ledger: decision not acknowledged: %s", exc)


def decide_and_start(run: Run, enf: RunEnforcement, intent: Intent,
                     tool_call_id: str | None, require_db: bool, *,
                     may_wait: bool = True) -> tuple[str, Pending]:
    """Decide; on allow queue decision + intent together and return (tool_call_id, the intent's
    Pending, already enqueued). Deny and an unapproved hold raise (see module docstring)."""
    key = (intent.tool, intent.args_hash)
    if tool_call_id is None:
        _read(intent, lambda: _held_call(run, enf, key))
        held = enf.pending.get(key)
        tool_call_id = held[0] if held else None
    call_id = tool_call_id or str(ids.new_id())
    live = run.writer.live
    if enf.enforcing and require_db and not live.current(enf.origin) \
            and not live.confirm(enf.origin):
        why = (f"cannot confirm the pack in force for {intent.tool}: the live state of "
               f"{enf.origin} is older than {live.stale_after:g} s and cannot be read")
        basis = enf.basis(run, intent.tool, intent.args_hash, None)
        ref = run.record("policy.decided", _own_data(enf, intent, call_id, basis=basis,
                                                     rule=UNCONFIRMED, reason=why))
        raise PolicyDenied(tool=intent.tool, tool_call_id=call_id, rules=(UNCONFIRMED,),
                           reasons=(why,), pack_hash=enf.pack_hash, decision_event_id=ref.event_id)
    request = _request_key(enf, key, call_id)
    grant = None if request is None else _read(
        intent, lambda: _grant(run, enf, request, intent.args_hash))
    decision = _check(run, enf, intent, call_id, grant)
    data = dict(decision.data) if decision.data is not None else None
    outcome = decision.outcome or ("allow" if decision.allowed else "deny")
    if not decision.allowed and outcome == "allow":  # contradictory: the refusal wins
        outcome = "deny"
    if outcome == "allow":
        events = [] if data is None else [run.pending_event("policy.decided", data, deltas=ZERO)]
        started = intent.pending(call_id, intent.build(call_id))
        run.writer.enqueue_many([*events, started])
        enf.pending.pop(request or key, None)
        return call_id, started
    if data is None:  # a refusal without its record (e.g. a pack it cannot load): build it
        data = _own_data(enf, intent, call_id, rule="policy.guard_denied",
                         reason=decision.reason[:500],
                         basis=enf.basis(run, intent.tool, intent.args_hash, grant))
        outcome = "deny"
    rules, reasons = _rules(data)
    if outcome == "deny":
        decided = run.pending_event("policy.decided", data, wait=True, deltas=ZERO)
        run.writer.enqueue_many([decided])
        _durable(decided.ack)
        raise PolicyDenied(tool=intent.tool, tool_call_id=call_id, rules=rules, reasons=reasons,
                           pack_hash=enf.pack_hash, decision_event_id=decided.event_id)
    return _hold(run, enf, intent, call_id, decision=decision, data=data,
                 require_db=require_db, may_wait=may_wait)


def _hold(run: Run, enf: RunEnforcement, intent: Intent, call_id: str, *, decision: Decision,
          data: dict[str, Any], require_db: bool, may_wait: bool) -> tuple[str, Pending]:
    """require_approval: record the decision (and the request, once), wait, run or raise.
    Waits once: a granted approval the pack still does not accept raises (no loop)."""
    key = (intent.tool, intent.args_hash)
    held = enf.pending.get(key)
    approval_id = held[1] if held and held[0] == call_id else str(ids.new_id())
    data["approval_id"] = approval_id
    first = held is None or held[0] != call_id or held[1] != approval_id
    decided = run.pending_event("policy.decided", data, wait=not first, deltas=ZERO)
    events = [decided]
    if first:
        events.append(run.pending_event("approval.requested", _request(
            approval_id, call_id, intent, data), wait=True, deltas=ZERO))
        _remember(run, approval_id, call_id, intent, events[-1].event_id)
    run.writer.enqueue_many(events)
    enf.pending[key] = (call_id, approval_id)
    _durable(events[-1].ack)
    if may_wait and decision.approval_wait_seconds > 0 and _wait(run, enf, key, decision):
        return decide_and_start(run, enf, intent, call_id, require_db, may_wait=False)
    rules, reasons = _rules(data)
    raise ApprovalRequired(tool=intent.tool, tool_call_id=call_id, args_hash=intent.args_hash,
                           approval_id=approval_id, rules=rules, reasons=reasons,
                           pack_hash=enf.pack_hash, decision_event_id=decided.event_id)


def _wait(run: Run, enf: RunEnforcement, key: tuple[str, str], decision: Decision) -> bool:
    """Poll for the approval (one connection for the wait) until granted (True) or the wait
    is over (False); a stop covering the run or the tool meanwhile raises RunStopped."""
    deadline = time.monotonic() + decision.approval_wait_seconds
    pause = threading.Event()
    with run.writer.live.connection() as conn:
        while time.monotonic() < deadline:
            stop = run.writer.live.find(run, tool=key[0])
            if stop is not None:
                raise run.stopped(stop, f"waiting for approval of tool {key[0]}")
            try:  # a server that stops answering mid-wait: each poll is cut, then fail closed
                with guard(conn, ack_timeout()):
                    granted = _grant(run, enf, key, key[1], conn)
            except psycopg.Error as exc:
                raise LedgerUnavailable(f"the approval of tool {key[0]!r} could not be read "
                                        f"({type(exc).__name__}); the tool was not run") from None
            if granted is not None:
                return True
            pause.wait(min(APPROVAL_POLL, max(0.0, deadline - time.monotonic())))
    return False


def _request(approval_id: str, call_id: str, intent: Intent,
             data: Mapping[str, Any]) -> dict[str, Any]:
    _, reasons = _rules(data)
    return {"approval_id": approval_id, "tool_call_id": call_id, "tool": intent.tool,
            "args_hash": intent.args_hash, "args": intent.args,
            "reason": "; ".join(reasons) or None, "required_roles": [], "amount_usd": None}


def _remember(run: Run, approval_id: str, call_id: str, intent: Intent, event_id: Any) -> None:
    """`ledger.decide(approval_id, ...)` in this process finds the request (hooks/approvals)."""
    from ledger.hooks import approvals

    pending = approvals.Approval(approval_id, call_id, intent.tool, intent.args_hash,
                                 intent.args, run.run_id, event_id)
    with approvals._lock:
        approvals._pending[approval_id] = (pending, weakref.ref(run))

