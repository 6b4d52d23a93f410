"""`ledger.run(...)`: the run context and the recording helpers agents call.

A `Run` owns one hash chain (its `RunChain`, advanced on the writer thread) and the identity
envelope (tenant, principal, agent, versions) copied into every event it records, so nothing
downstream has to know who the agent acts for. Recording is cheap on the agent thread: build
a small `Pending` and enqueue it; encoding happens on the writer thread. Totals for `run.ended`
are kept here because they describe what the agent did, in the order it did it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from contextvars import Token
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger import ids
from ledger.events import Usage
from ledger.hooks.approvals import Approval, request_approval
from ledger.hooks.context import run_var
from ledger.hooks.continuity import claim_resumed, ensure_new
from ledger.hooks.enforce import RunEnforcement, pin
from ledger.hooks.errors import RunStopped, StopInfo
from ledger.hooks.gatetag import gate_attributes
from ledger.hooks.live import stop_ref
from ledger.hooks.messages import RunMessages
from ledger.hooks.sanitize import error_info, escape_text, token_count
from ledger.hooks.setup import get_price_table, get_writer
from ledger.hooks.suspend import ResumeFrom, Suspendable, Suspension
from ledger.hooks.tools import ToolCall, proposed_calls, record_tool_ended, record_tool_started
from ledger.hooks.writer import Ack, Pending, RunChain, Writer

if TYPE_CHECKING:  # payload rows are built by ledger.privacy, only on the identity path
    from ledger.privacy import PayloadRow

__all__ = ["EventRef", "Run", "run"]

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class EventRef:
    """What the agent gets back from recording: the event id and, if asked, its ack."""

    event_id: UUID
    ack: Future[Ack] | None = None


class Run(RunMessages, Suspendable):
    """One agent run: a context manager (sync and async) and the recording helpers."""

    implicit = False  # opened by `@ledger.tool` for a call outside any run (ledger/hooks/tools)

    def __init__(
        self, *, agent: str, user: str | None = None, policy: str | None = None,
        prompt_version: str | None = None, model: str | None = None,
        roles: Iterable[str] = (), tenant: str | None = None, agent_version: str | None = None,
        environment: str | None = None, on_behalf_of: str | None = None,
        task: str | None = None, conversation_id: str | None = None,
        policy_hash: str | None = None, tool_contract_digest: str | None = None,
        attributes: Mapping[str, Any] | None = None, source: Mapping[str, str] | None = None,
        run_id: UUID | None = None, writer: Writer | None = None,
        user_token: str | None = None, agent_token: str | None = None,
        correlation: Mapping[str, Any] | None = None, resume_key: str | None = None,
    ) -> None:
        self._identity: tuple[dict[str, Any], tuple[PayloadRow, ...]] | None = None
        if user_token is not None or agent_token is not None:
            from ledger.authority.recorded import commit_tokens  # joserfc only when used

            slot, rows = commit_tokens({"user": user_token, "agent": agent_token}, ids.now_ns())
            self._identity = (slot, tuple(rows))
        self.writer = writer or get_writer()
        tenant = tenant or self.writer.settings.tenant
        if not _TENANT.match(tenant):
            raise ValueError(f"tenant {tenant!r} must match {_TENANT.pattern}")
        if policy_hash is None and policy is not None and _HEX64.match(policy):
            policy_hash = policy
        self.run_id = run_id or ids.new_id()
        self.agent = agent
        self.user = user
        self.roles = tuple(roles)
        self.tenant = tenant
        self.task = task
        self.policy = policy
        self.attributes = dict(attributes or {})
        self.chain = RunChain(self.run_id)
        self.envelope: dict[str, Any] = {
            "tenant": tenant,
            "environment": environment,
            "principal": {"initiating_user": user, "roles": list(self.roles),
                          "on_behalf_of": on_behalf_of},
            "agent": {"name": agent, "version": agent_version},
            "versions": {"prompt_version": prompt_version, "model": model,
                         "policy_hash": policy_hash, "tool_contract_digest": tool_contract_digest},
            "source": dict(source or {}),
        }
        self.conversation_id = conversation_id
        self.correlation = dict(correlation) if correlation else None  # on every event
        self.resume_key = resume_key
        self.suspension: Suspension | None = None
        self.resume_from: ResumeFrom | None = None  # set by `ledger.resume`
        self._lock = threading.Lock()
        self.llm_calls = self.tool_calls = self.input_tokens = self.output_tokens = 0
        self.cost = Decimal(0)
        self.approved: dict[tuple[str, str], str] = {}
        self.started = self.ended = False
        self._tokens: list[Token[Run | None]] = []
        self.prompts: set[str] = set()  # "name/version" resolved via `prompt()` (stop targets)
        self.stopped_by: StopInfo | None = None
        self.enf: RunEnforcement | None = None  # the pinned pack, when one is active
        self.pack_unknown = False  # the packs of the origin could not be read at run start
        self._resumed = self._chosen_id = run_id is not None

    # -- core --------------------------------------------------------------------------------
    def record(
        self, type_name: str, data: Any, *, raw: tuple[str, Any] | None = None,
        source: Mapping[str, str] | None = None, correlation: Mapping[str, Any] | None = None,
        wait: bool = False, require_db: bool = False,
        finalize: Callable[[dict[str, Any], RunChain], None] | None = None,
        private: tuple[PayloadRow, ...] = (),
        gate: Callable[[Ack], BaseException | None] | None = None,
    ) -> EventRef:
        """Queue one event of this run; `data` may be a dict, a data model or a callable."""
        p = self.pending_event(type_name, data, raw=raw, source=source, correlation=correlation,
                               wait=wait, require_db=require_db, finalize=finalize,
                               private=private, gate=gate)
        self.writer.enqueue(p)
        return EventRef(p.event_id, p.ack)

    def pending_event(
        self, type_name: str, data: Any, *, raw: tuple[str, Any] | None = None,
        source: Mapping[str, str] | None = None, correlation: Mapping[str, Any] | None = None,
        wait: bool = False, require_db: bool = False,
        finalize: Callable[[dict[str, Any], RunChain], None] | None = None,
        private: tuple[PayloadRow, ...] = (),
        gate: Callable[[Ack], BaseException | None] | None = None,
        deltas: tuple[Decimal, int, int] | None = None,
    ) -> Pending:
        """The event as the writer takes it, not yet queued (`Writer.enqueue_many` queues
        several together). An enforced run's LLM results carry running-total deltas, and its
        decisions zero deltas: the database keeps the run's totals and returns them with the
        decision's ack (events without deltas use the plain statement)."""
        event_id = ids.new_id()
        corr = dict(correlation) if correlation else None
        if self.conversation_id:
            corr = {"conversation_id": self.conversation_id, **(corr or {})}
        if self.correlation:
            corr = {**self.correlation, **(corr or {})}
        if self.enf is not None and deltas is not None and any(deltas):
            self.enf.totals.add(event_id, deltas)
        ack: Future[Ack] | None = Future() if wait else None
        return Pending(
            self.chain, type_name, self.envelope, data, event_id, ids.now_ns(),
            time.monotonic_ns(), corr, raw, dict(source) if source else None, ack, require_db,
            finalize, private, gate, deltas if self.enf is not None else None,
        )

    def stopped(self, stop: StopInfo, where: str) -> RunStopped:
        """The exception for `stop`; a stop of the run itself (not only of one tool or model,
        which the agent may route around) is remembered, so its run.ended says stopped."""
        if self.stopped_by is None:
            self.stopped_by = self.writer.live.find(self)
        return RunStopped(self.run_id, stop, where)

    def check_live(self, *, tool: str | None = None, model: str | None = None,
                   where: str = "") -> None:
        """Raise `RunStopped` if a stop in this process's cache covers the run (no round trip).

        For integrations that wait on a tool's ack themselves: the ack already fails with
        `RunStopped` when `tool_started(wait=True)` was used; this is the cache-only check.
        """
        stop = self.writer.live.find(self, tool=tool, model=model)
        if stop is not None:
            raise self.stopped(stop, where or "live check")

    def begin(self, raw: tuple[str, Any] | None = None) -> Run:
        """Record run.started without touching the context (for integrations' own runs).

        A run in a stopped scope (agent, agent@version, tenant, model, prompt, its own id)
        is recorded as started and ended `stopped`, then refused with `RunStopped`.
        """
        if not self.started:
            if self.resume_from is None and self._chosen_id:  # a new run: X must not exist
                ensure_new(self.run_id, self.writer)
            self.started = True
            live = self.writer.live
            live.watch(self.tenant)  # the first run of an origin loads its stops and packs
            self._pin()
            attributes = self.attributes
            private: tuple[PayloadRow, ...] = ()
            if self._identity is not None:  # the tokens only as commitments (see authority)
                attributes = {**attributes, "identity_tokens": self._identity[0]}
                private = self._identity[1]
            if self.resume_from is not None:  # the same run goes on (ledger/hooks/continuity)
                at = self.chain.next_seq
                claim_resumed(self, self.record("run.resumed", {
                    "suspended_event": self.resume_from.suspended_event,
                    "resume_key": self.resume_from.resume_key}, raw=raw, wait=True), at)
            else:
                attributes = gate_attributes(self.run_id, attributes)  # `ledger.gate_task`
                self.record("run.started", {"task": self.task, "policy": self.policy,
                                            "attributes": attributes,
                                            "implicit": self.implicit or None},
                            raw=raw, private=private)
            stop = live.find(self)
            if stop is not None:
                refused = self.stopped(stop, "run start")
                self.end("stopped")
                raise refused
        return self

    def _pin(self) -> None:
        """Pin the pack in force for this run (ledger/hooks/enforce.py); record its hash."""
        self.enf = pin(self, resumed=self._resumed)
        if self.enf is not None:
            self.chain.totals = self.enf.totals
            if self.envelope["versions"]["policy_hash"] is None:
                self.envelope["versions"]["policy_hash"] = self.enf.pack_hash

    def start(self) -> Run:
        """Record run.started and make this the current run (what `with` does)."""
        self.begin()
        self._tokens.append(run_var.set(self))
        return self

    def end(self, status: str = "succeeded", error: BaseException | str | None = None) -> None:
        """Record run.ended with totals, event count and the hash of the previous event.

        A run halted by a stop ends `stopped` with `stopped_by` (who, why, which event)."""
        if self._tokens:
            try:
                run_var.reset(self._tokens.pop())
            except ValueError:  # exited in another context (e.g. a different task)
                run_var.set(None)
        if self.ended:
            return
        self.ended = True
        if self.suspension is not None and status != "stopped" and self.stopped_by is None:
            self.record_suspended()  # open and waiting: run.suspended, not run.ended
            return
        data: dict[str, Any] = {"status": status, "totals": self.totals(), "event_count": 1}
        if error is not None:
            data["error"] = error_info(error)
        if status == "stopped" and self.stopped_by is not None:
            data["stopped_by"] = stop_ref(self.stopped_by)

        def finalize(body: dict[str, Any], chain: RunChain) -> None:
            body["event_count"] = chain.next_seq + 1
            body["last_hash"] = chain.prev_hash

        self.record("run.ended", data, finalize=finalize)

    def _exit(self, exc: BaseException | None) -> None:
        if isinstance(exc, RunStopped):  # the stop ended the run, whatever it covered
            self.stopped_by = self.stopped_by or exc.stop
            self.end("stopped", exc)
        elif self.stopped_by is not None:  # halted, whatever the agent did with the exception
            self.end("stopped", exc)
        elif exc is None:
            self.end("succeeded")
        elif isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | GeneratorExit):
            self.end("cancelled", exc)
        else:
            self.end("failed", exc)

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._exit(exc)

    async def __aenter__(self) -> Run:
        return self.start()

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._exit(exc)

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until this process's events so far are durable (True) or spooled (False)."""
        return self.writer.flush(timeout)

    # -- helpers -----------------------------------------------------------------------------
    def llm_started(self, *, model: str | None = None, provider: str | None = None,
                    request: Any = None, parameters: Mapping[str, Any] | None = None,
                    call_id: str | None = None, raw: tuple[str, Any] | None = None,
                    source: Mapping[str, str] | None = None,
                    correlation: Mapping[str, Any] | None = None) -> str:
        """Record llm.call.started; returns the call id to pass to `llm_ended`.

        A stop in the process's cache covering the run or `model` raises `RunStopped` first
        (no round trip: the cache is kept fresh by NOTIFY, polls and tool acks)."""
        self.check_live(model=model, where="before llm call")
        call_id = call_id or str(ids.new_id())
        self.record("llm.call.started", {"call_id": call_id, "provider": provider,
                                         "request_model": model, "request": request,
                                         "parameters": dict(parameters or {})},
                    raw=raw, source=source, correlation=correlation)
        if self.enf is not None:  # in flight: unknown cost in the basis until it ends
            self.enf.llm_started(call_id)
        return call_id

    def llm_ended(self, call_id: str, *, response_model: str | None = None, output: Any = None,
                  input_tokens: int | None = None, output_tokens: int | None = None,
                  total_tokens: int | None = None, tool_calls: Iterable[Any] = (),
                  finish_reason: str | None = None, duration_ns: int | None = None,
                  error: BaseException | str | None = None, raw: tuple[str, Any] | None = None,
                  source: Mapping[str, str] | None = None,
                  correlation: Mapping[str, Any] | None = None) -> None:
        """Record llm.call.ended with usage, proposed tool calls and cost from the price table."""
        input_tokens, output_tokens, total_tokens = (
            token_count(input_tokens), token_count(output_tokens), token_count(total_tokens))
        usage = None
        if input_tokens is not None or output_tokens is not None or total_tokens is not None:
            if total_tokens is None and input_tokens is not None and output_tokens is not None:
                total_tokens = input_tokens + output_tokens
            usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                          total_tokens=total_tokens)
        cost = get_price_table().cost(response_model, usage)
        with self._lock:
            self.llm_calls += 1
            self.input_tokens += input_tokens or 0
            self.output_tokens += output_tokens or 0
            if cost is not None:
                self.cost += Decimal(cost.amount_usd)
        data: dict[str, Any] = {
            "call_id": call_id, "response_model": response_model, "output": output,
            "usage": usage.model_dump() if usage else None,
            "proposed_tool_calls": proposed_calls(tool_calls), "finish_reason": finish_reason,
            "cost": cost.model_dump() if cost else None, "duration_ns": duration_ns,
            "error": error_info(error) if error is not None else None,
        }
        deltas = None if self.enf is None else (
            Decimal(cost.amount_usd) if cost else Decimal(0), total_tokens or 0, int(cost is None))
        self.writer.enqueue(self.pending_event("llm.call.ended", data, raw=raw, source=source,
                                               correlation=correlation, deltas=deltas))
        if self.enf is not None:
            self.enf.llm_ended(call_id)

    def llm_call(self, *, model: str | None = None, request: Any = None, response: Any = None,
                 response_model: str | None = None, provider: str | None = None,
                 input_tokens: int | None = None, output_tokens: int | None = None,
                 tool_calls: Iterable[Any] = (), finish_reason: str | None = None,
                 duration_ns: int | None = None, parameters: Mapping[str, Any] | None = None,
                 error: BaseException | str | None = None) -> str:
        """Record a finished model call (started + ended) in one line; returns its call id."""
        call_id = self.llm_started(model=model, provider=provider, request=request,
                                   parameters=parameters)
        self.llm_ended(call_id, response_model=response_model or model, output=response,
                       input_tokens=input_tokens, output_tokens=output_tokens,
                       tool_calls=tool_calls, finish_reason=finish_reason,
                       duration_ns=duration_ns, error=error)
        return call_id

    def prompt(self, name: str, version: str, template: str,
               variables: Mapping[str, Any] | None = None) -> str:
        """Record prompt.resolved; template_hash is SHA-256 of the template's UTF-8 text."""
        digest = hashlib.sha256(escape_text(template).encode("utf-8")).hexdigest()
        self.prompts.add(f"{name}/{version}")  # a `prompt:<name>/<version>` stop covers it
        self.record("prompt.resolved", {"name": name, "version": version, "template_hash": digest,
                                        "variables": dict(variables or {})})
        return digest

    # tool calls and approvals live in tools.py / approvals.py; thin delegations here.
    def tool_started(self, tool: str, args: Any, **kw: Any) -> ToolCall:
        """Record tool.call.started (see `ledger.hooks.tools.record_tool_started`)."""
        return record_tool_started(self, tool, args, **kw)

    def tool_ended(self, call: ToolCall, **kw: Any) -> None:
        """Record tool.call.ended (see `ledger.hooks.tools.record_tool_ended`)."""
        record_tool_ended(self, call, **kw)

    def request_approval(self, tool_call: Any, args: Any = None, **kw: Any) -> Approval:
        """Record approval.requested bound to the call's tool_call_id and args_hash."""
        return request_approval(self, tool_call, args, **kw)


def run(*, agent: str, **kwargs: Any) -> Run:
    """Start describing a run: `with ledger.run(agent=..., user=...) as run:` (or `async with`).

    `user_token` / `agent_token` are OIDC ID tokens (compact JWS) for the ledger's audience; they
    are recorded behind salted commitments and re-verified by replay, never trusted here. A
    malformed or already expired token raises `ledger.authority.tokens.TokenRefused`.
    """
    return Run(agent=agent, **kwargs)
