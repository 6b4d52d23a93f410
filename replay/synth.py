"""Build well-formed runs of events in memory, for tests, benchmarks and what-if exercises.

A `RunBuilder` keeps the run chain fields (run_seq, a controllable clock, principal and
versions) consistent so tests describe *behaviour* ("a refund of 250 approved by bob") rather
than envelopes. It only uses `ledger.events.make_event`, the same constructor writers use.
"""

from __future__ import annotations

import uuid
from typing import Any

from ledger import ids
from ledger.events import EventBase, args_hash, make_event

__all__ = ["RunBuilder"]

_T0 = 1_795_000_000 * 1_000_000_000


class RunBuilder:
    """Append events for one run with consistent run_seq, clock, principal and versions."""

    def __init__(
        self,
        *,
        user: str | None = "alice",
        roles: tuple[str, ...] = ("agent-operator",),
        model: str | None = "gpt-5-mini",
        prompt_version: str | None = None,
        policy_hash: str | None = None,
        contract_digest: str | None = None,
        start_ns: int = _T0,
        run_id: uuid.UUID | None = None,
    ) -> None:
        self.run_id = run_id or ids.new_id()
        self.now = start_ns
        self.events: list[EventBase] = []
        self.principal = {"initiating_user": user, "roles": list(roles)}
        self.versions = {
            "model": model,
            "prompt_version": prompt_version,
            "policy_hash": policy_hash,
            "tool_contract_digest": contract_digest,
        }
        self._n = 0

    def _emit(self, type_name: str, data: dict[str, Any], advance_s: float = 0.1) -> EventBase:
        self.now += int(advance_s * 1_000_000_000)
        event = make_event(
            type_name,
            run_id=self.run_id,
            run_seq=len(self.events),
            occurred_at=ids.format_timestamp(self.now),
            principal=self.principal,
            versions={k: v for k, v in self.versions.items() if v is not None},
            data=data,
        )
        self.events.append(event)
        return event

    def _next_id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def start(self, task: str = "demo") -> EventBase:
        return self._emit("run.started", {"task": task}, 0)

    def message(
        self,
        content: str,
        *,
        trust: str = "trusted",
        origin: str | None = None,
        role: str = "user",
        output: bool = False,
    ) -> EventBase:
        return self._emit(
            "message.output" if output else "message.input",
            {"role": role, "content": content, "content_trust": trust, "origin": origin},
        )

    def prompt(self, name: str, version: str, template_hash: str = "0" * 64) -> EventBase:
        return self._emit(
            "prompt.resolved", {"name": name, "version": version, "template_hash": template_hash}
        )

    def llm(
        self,
        *,
        tokens: tuple[int, int] | None = (100, 50),
        cost: str | None = "0.01",
        model: str | None = None,
        seconds: float = 0.5,
    ) -> str:
        call_id = self._next_id("llm")
        used = model or self.versions["model"]
        self._emit("llm.call.started", {"call_id": call_id, "request_model": used})
        data: dict[str, Any] = {"call_id": call_id, "response_model": used}
        if tokens is not None:
            data["usage"] = {"input_tokens": tokens[0], "output_tokens": tokens[1]}
        if cost is not None:
            data["cost"] = {"amount_usd": cost, "price_table_version": "prices@2026-11-01"}
        self._emit("llm.call.ended", data, seconds)
        return call_id

    def tool_start(
        self,
        tool: str,
        args: Any,
        *,
        call_id: str | None = None,
        attempt: int = 1,
        contract_digest: str | None = None,
    ) -> str:
        call_id = call_id or self._next_id("call")
        self._emit(
            "tool.call.started",
            {
                "tool_call_id": call_id,
                "tool": tool,
                "args": args,
                "args_hash": args_hash(args),
                "attempt": attempt,
                "contract_digest": contract_digest,
            },
        )
        return call_id

    def tool_end(
        self,
        call_id: str,
        tool: str,
        *,
        result: Any = "ok",
        status: str = "ok",
        seconds: float = 0.2,
    ) -> EventBase:
        return self._emit(
            "tool.call.ended",
            {"tool_call_id": call_id, "tool": tool, "status": status, "result": result},
            seconds,
        )

    def tool(
        self,
        tool: str,
        args: Any,
        *,
        result: Any = "ok",
        status: str = "ok",
        seconds: float = 0.2,
        call_id: str | None = None,
        attempt: int = 1,
        contract_digest: str | None = None,
    ) -> str:
        call_id = self.tool_start(
            tool, args, call_id=call_id, attempt=attempt, contract_digest=contract_digest
        )
        self.tool_end(call_id, tool, result=result, status=status, seconds=seconds)
        return call_id

    def approve(
        self,
        call_id: str,
        tool: str,
        args: Any,
        *,
        approver: str = "bob",
        roles: tuple[str, ...] = ("finance_lead",),
        decision: str = "approved",
        request: bool = True,
        seconds: float = 1.0,
    ) -> str:
        approval_id = self._next_id("appr")
        digest = args_hash(args)
        if request:
            self._emit(
                "approval.requested",
                {
                    "approval_id": approval_id,
                    "tool_call_id": call_id,
                    "tool": tool,
                    "args_hash": digest,
                    "args": args,
                },
            )
        self._emit(
            "approval.decided",
            {
                "approval_id": approval_id,
                "tool_call_id": call_id,
                "args_hash": digest,
                "decision": decision,
                "approver": {"id": approver, "roles": list(roles)},
            },
            seconds,
        )
        return approval_id

    def gap(self, reason: str = "writer buffer overflow", missing: int = 3) -> EventBase:
        return self._emit("ledger.gap", {"reason": reason, "missing_events": missing})

    def end(self, status: str = "succeeded", seconds: float = 0.1) -> EventBase:
        return self._emit(
            "run.ended", {"status": status, "event_count": len(self.events) + 1}, seconds
        )
