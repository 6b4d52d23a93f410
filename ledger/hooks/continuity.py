"""Run continuity (issue 17): resume a suspended run from the ledger, in any process.

A run interrupted for a person (an approval, a LangGraph `interrupt()`) or a workflow records
`run.suspended` and stays open. Whoever resumes it, maybe a web request in another process
on another host, reads the run's head and its `run.started` envelope through the
tenant-scoped read API (migration 0019) and continues the same `run_id` and hash chain at
head + 1 with `run.resumed`: the chain cannot continue without its head, so a database that
cannot be read fails closed (`LedgerUnavailable`), never starts a second run in silence.

Integrations call `open_run(resume_key, ...)` once per framework run: it resumes the suspended
run with that key (`langgraph:<thread_id>`, `temporal:<workflow_id>`...), else starts a new
run whose correlation carries the key's ids.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.db.sqlfiles import query
from ledger.hooks.errors import LedgerUnavailable, RunAlreadyEnded, RunExists, RunNotFound
from ledger.hooks.setup import ack_timeout, get_writer
from ledger.hooks.suspend import ResumeFrom
from ledger.merkle import leaf_hash

if TYPE_CHECKING:
    from ledger.hooks.runs import EventRef, Run
    from ledger.hooks.writer import Writer

__all__ = ["PendingApproval", "claim_resumed", "ensure_new", "find_suspended",
           "key_correlation", "open_run", "pending_approvals", "resume"]

log = logging.getLogger("ledger.hooks")

# which correlation field a resume key's id fills, by the key's prefix
_KEY_FIELDS = {"langgraph": "thread_id", "openai-agents": "thread_id",
               "temporal": "workflow_id", "semantic-kernel": "thread_id"}


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """An approval request of a run with no decision yet, as the ledger holds it."""

    approval_id: str
    tool_call_id: str
    tool: str
    args_hash: str
    requested_event_id: uuid.UUID


def _read(writer: Writer, name: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """One read through the read API after this process's queued events are durable (a run
    suspended here a moment ago must be visible); unreachable: `LedgerUnavailable`. A flush
    that does not complete in time means exactly that (and waiting for a read as well would
    pass the acknowledgement timeout), so it fails closed at once."""
    if not writer.flush(ack_timeout()):
        raise LedgerUnavailable("this process's events are not durable in the ledger yet: a "
                                "run's chain cannot continue without its head")
    try:
        return writer.live.fetch(query(name), dict(params))
    except Exception as exc:
        raise LedgerUnavailable(f"cannot read the ledger ({type(exc).__name__}): a run's "
                                "chain cannot continue without its head") from None


def find_suspended(resume_key: str, *, tenant: str | None = None,
                   writer: Writer | None = None) -> uuid.UUID | None:
    """The newest suspended (not resumed, not ended) run of this tenant with `resume_key`."""
    writer = writer or get_writer()
    origin = writer.settings.origin(tenant)
    rows = _read(writer, "continuity_find_suspended",
                 {"origin": origin, "resume_key": resume_key})
    return rows[0][0] if rows and rows[0][0] is not None else None


def ensure_new(run_id: uuid.UUID, writer: Writer) -> None:
    """A run started with a chosen `run_id` must be new: restarting an existing run's chain at
    run_seq 0 is rejected by the sequencer only after its tools ran. One read, on this path
    only (a generated id is new by construction); unreadable ledger: `LedgerUnavailable`."""
    if _read(writer, "continuity_run_exists", {"run_id": uuid.UUID(str(run_id))}):
        raise RunExists(f"run {run_id} already exists: ledger.run(run_id=...) starts a new run; "
                        f"continue a suspended or interrupted one with ledger.resume({run_id})")


def _approvals(run_id: uuid.UUID, writer: Writer) -> list[tuple[Any, ...]]:
    return _read(writer, "continuity_run_approvals", {"run_id": uuid.UUID(str(run_id))})


def pending_approvals(run_id: uuid.UUID, *, writer: Writer | None = None
                      ) -> list[PendingApproval]:
    """Approval requests of `run_id` with no decision in the ledger, oldest first: what a new
    handler in a new process decides with `ledger.decide(...)`."""
    return [PendingApproval(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4])
            for r in _approvals(run_id, writer or get_writer()) if r[5] is None]


def _envelope_kwargs(started: dict[str, Any]) -> dict[str, Any]:
    """The `Run` arguments that rebuild a run's identity envelope from its run.started."""
    principal = started.get("principal") or {}
    agent = started.get("agent") or {}
    versions = started.get("versions") or {}
    data = started.get("data") or {}
    correlation = {k: v for k, v in (started.get("correlation") or {}).items()
                   if k != "caused_by"}
    return {
        "agent": agent.get("name") or "agent", "agent_version": agent.get("version"),
        "user": principal.get("initiating_user"), "roles": principal.get("roles") or (),
        "on_behalf_of": principal.get("on_behalf_of"), "tenant": started.get("tenant"),
        "environment": started.get("environment"),
        "prompt_version": versions.get("prompt_version"), "model": versions.get("model"),
        "policy_hash": versions.get("policy_hash"),
        "tool_contract_digest": versions.get("tool_contract_digest"),
        "task": data.get("task"), "policy": data.get("policy"),
        "conversation_id": correlation.pop("conversation_id", None),
        "correlation": correlation or None, "source": started.get("source") or None,
    }


def resume(run_id: uuid.UUID | str, *, resume_key: str | None = None,
           writer: Writer | None = None, **overrides: Any) -> Run:
    """The suspended (or interrupted) run `run_id`, continued: use it like `ledger.run(...)`.

    Reads the run's head (logged or still in intake) and its run.started through the read
    API; entering it records `run.resumed` at head + 1. The identity envelope is the run's own
    (`overrides` replace parts of it, e.g. `attributes`). Raises `RunNotFound` (no agent run
    this credential may see), `RunAlreadyEnded` (nothing written), `LedgerUnavailable`.
    """
    return _resume(uuid.UUID(str(run_id)), resume_key, writer or get_writer(), overrides, {})


class _NotTheirs(RunNotFound):
    """The suspended run found by a resume key is another user's or agent's."""


def _resume(rid: uuid.UUID, resume_key: str | None, writer: Writer,
            overrides: Mapping[str, Any], expect: Mapping[str, Any]) -> Run:
    """`resume`; with `expect` (identity fields open_run was asked for) a run whose run.started
    says otherwise raises `_NotTheirs` before anything is adopted or written."""
    from ledger.hooks.runs import Run  # runs imports the hooks this module serves
    from ledger.hooks.tools import seed_attempts

    rows = _read(writer, "continuity_resume_state", {"run_id": rid})
    if not rows:
        raise RunNotFound(f"run {rid} not found (or not visible to this tenant)")
    _, head_seq, leaf, head_body, started_body, suspended_body, attempts = rows[0]
    started = json.loads(bytes(started_body))
    if started.get("type") != "run.started":
        raise RunNotFound(f"run {rid} is not an agent run")
    head = json.loads(bytes(head_body))
    if head.get("type") == "run.ended":
        raise RunAlreadyEnded(f"run {rid} has ended (run_seq {head_seq}); nothing may follow")
    suspended = json.loads(bytes(suspended_body)) if suspended_body is not None else None
    data = (suspended or {}).get("data") or {}
    key = resume_key if resume_key is not None else data.get("resume_key")
    kwargs = {**_envelope_kwargs(started), "resume_key": key, **overrides}
    if any(kwargs.get(k) != v for k, v in expect.items()):
        raise _NotTheirs(f"run {rid} is not this {'/'.join(expect)}'s")
    run = Run(run_id=rid, writer=writer, **kwargs)
    run.chain.next_seq = int(head_seq) + 1
    run.chain.prev_hash = (bytes(leaf) if leaf is not None else leaf_hash(bytes(head_body))).hex()
    if suspended is not None:
        run.continue_totals(data.get("totals") or {})
    at_suspension = head.get("type") == "run.suspended"
    run.resume_from = ResumeFrom(uuid.UUID(head["event_id"]) if at_suspension else None, key)
    seed_attempts(run, json.loads(attempts) if attempts else {})  # a retry is attempt N+1
    _adopt_pending(run, writer)
    return run


def _adopt_pending(run: Run, writer: Writer) -> None:
    """The run's undecided approvals become pending in this process (ledger/hooks/approvals),
    so `ledger.decide` records into the resumed run and the approved retry keeps its call id;
    one approved (maybe by another process) whose call has not started yet binds that retry
    now. Each approval releases one call: a started one is never bound again."""
    from ledger.hooks.approvals import Approval, adopt

    rows = _approvals(run.run_id, writer)
    adopt(run, [Approval(str(r[0]), str(r[1]), str(r[2]), str(r[3]), None, run.run_id, r[4])
                for r in rows if r[5] is None])
    with run._lock:  # requests whose call ran since: never held again (precheck._held_call)
        run.__dict__["_released_calls"] = frozenset(str(r[1]) for r in rows if r[7])
        for _, call_id, tool, _, _, decision, released, started in rows:
            if decision in ("approved", "edited") and released and not started:
                run.approved[(str(tool), str(released))] = str(call_id)


def key_correlation(resume_key: str) -> dict[str, str]:
    """The correlation ids a resume key names (`langgraph:<thread>` -> thread_id...)."""
    prefix, _, rest = resume_key.partition(":")
    field = _KEY_FIELDS.get(prefix)
    return {field: rest} if field and rest else {}


def open_run(resume_key: str, **run_kwargs: Any) -> Run:
    """The run of one framework run: the suspended run with `resume_key` resumed, else a new
    run (agent from `run_kwargs`) whose events correlate the key's ids. Fails closed."""
    from ledger.hooks.runs import Run

    writer = run_kwargs.get("writer") or get_writer()
    found = find_suspended(resume_key, tenant=run_kwargs.get("tenant"), writer=writer)
    if found is not None:  # only the same agent's, and the same user's when one is given
        overrides = {k: v for k, v in run_kwargs.items()
                     if k in {"attributes", "correlation"}}
        expect = {k: run_kwargs[k] for k in ("agent", "user") if run_kwargs.get(k) is not None}
        try:
            return _resume(found, resume_key, writer, overrides, expect)
        except _NotTheirs as exc:  # a key someone else's run holds: never continue it
            log.warning("ledger: %s; starting a new run for key %r", exc, resume_key[:200])
    correlation = {**key_correlation(resume_key), **(run_kwargs.pop("correlation", None) or {})}
    return Run(resume_key=resume_key, correlation=correlation or None,
               **{"writer": writer, **run_kwargs})


def claim_resumed(run: Run, ref: EventRef, run_seq: int) -> None:
    """Fail closed unless this run's `run.resumed` (`ref`, at `run_seq`) is the one the ledger
    keeps: two resumers of one run read the same head, and the sequencer rejects the second's
    events, so the loser must not go on to run tools whose intents would be rejected."""
    assert ref.ack is not None
    try:
        ref.ack.result(ack_timeout())
    except Exception as exc:
        raise LedgerUnavailable(f"the resume of run {run.run_id} was not acknowledged "
                                f"({type(exc).__name__})") from None
    rows = _read(run.writer, "continuity_seq_holder", {"run_id": run.run_id, "run_seq": run_seq})
    holder = rows[0][0] if rows else None
    if holder is not None and holder != ref.event_id:
        run.ended = True  # nothing more of this resumer goes into the chain
        raise LedgerUnavailable(f"run {run.run_id} was resumed by another process first "
                                f"(place {run_seq} is event {holder}); nothing was run")
