"""`PolicyGuard`: the policy pack in force, decided before each tool call (ledger.hooks.guard).

Registered under the entry point `agent_ledger.guards` so the hooks find it without importing
replay. The hooks pass the pack they chose for the run (`pack_for`), its published document,
the running counters (`basis`) and the call; the guard answers with the decision and the exact
`policy.decided` data to record. Packs are validated and compiled once per hash per process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.canonical import content_hash
from ledger.errors import LedgerError
from ledger.hooks.guard import Decision, ProposedCall
from replay.policy.loader import load_pack_data
from replay.policy.precall import (
    PRECALL_VERSION,
    CompiledPreCall,
    LiveBasis,
    PreCallDecision,
    Proposed,
    compile_precall,
    decide,
)
from replay.policy.scoping import scope_matches

__all__ = ["PolicyGuard", "proposed_of"]


def proposed_of(call: ProposedCall) -> Proposed:
    """The evaluator's view of the hooks' plain-data call."""
    f = call.facts
    roles = f.get("roles") or ()
    return Proposed(
        tool=call.tool, args=call.args, args_hash=str(f.get("args_hash") or ""),
        tool_call_id=call.tool_call_id or "", contract_digest=f.get("contract_digest"),
        side_effect=call.side_effect, attempt=int(f.get("attempt") or 1),
        run_id=str(call.run_id), agent=call.agent, version=f.get("version"),
        tenant=f.get("tenant"), model=f.get("model"), user=call.principal,
        roles=tuple(str(x) for x in roles),
    )


class PolicyGuard:
    """The pre-call evaluator behind the Guard protocol; one instance per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._packs: dict[str, CompiledPreCall] = {}

    def compiled(self, pack_hash: str, document: Mapping[str, Any]) -> CompiledPreCall:
        """The pack compiled once per hash; a document not hashing to `pack_hash` is refused
        (LedgerError): the hooks then fail closed."""
        found = self._packs.get(pack_hash)
        if found is not None:
            return found
        if content_hash(dict(document)) != pack_hash:
            raise LedgerError(f"policy document does not hash to {pack_hash[:12]}")
        loaded = load_pack_data(dict(document), f"<ledger policy {pack_hash[:12]}>")
        with self._lock:
            found = self._packs[pack_hash] = compile_precall(loaded)
        return found

    def evaluate(self, call: ProposedCall) -> tuple[PreCallDecision, Proposed, LiveBasis] | None:
        """The full decision (None: no pack, or no rule active before calls)."""
        if call.pack_hash is None:
            return None
        if call.pack_document is None:  # a pack chosen but not at hand: fail closed
            raise LedgerError(f"policy {call.pack_hash[:12]} chosen for the run, document "
                              "not available")
        compiled = self.compiled(call.pack_hash, call.pack_document)
        if not compiled.active:
            return None
        proposed, basis = proposed_of(call), LiveBasis.from_json(call.basis or {})
        return decide(compiled, basis, proposed), proposed, basis

    def check(self, call: ProposedCall) -> Decision:
        """Allow / deny / require_approval with the policy.decided data; never raises for a
        deny. A pack that cannot be loaded denies (fail closed)."""
        try:
            found = self.evaluate(call)
        except LedgerError as exc:
            if call.pack_document is not None and not _enforces(call.pack_document):
                return _unloadable_shadow(call, str(exc))
            return _unloadable_enforced(call, str(exc))
        if found is None:
            return Decision.allow("no policy rule applies before calls", "policy")
        decision, proposed, basis = found
        wait = self._packs[decision.pack_hash].approval_wait_seconds
        reasons = "; ".join(f"{i}: {why}" for i, o, why, m in decision.hits if m == "enforce")
        return Decision(
            not decision.blocks, reasons or "allowed by policy", "policy", decision.decision,
            decision.event_data(proposed, basis), wait,
        )

    def taint_tools(self, pack_hash: str, document: Mapping[str, Any]) -> tuple[str, ...]:
        """Tool globs whose results count as untrusted input for the basis (flows'
        `from.tools`): the hooks set `untrusted_input` after such a call ends."""
        return self.compiled(pack_hash, document).taint_tools

    @staticmethod
    def pack_for(
        run: Mapping[str, Any], published: Sequence[tuple[int, str, Mapping[str, Any]]]
    ) -> str | None:
        """The hash of the latest published pack (by seq) whose scope matches the run
        (`run`: agent, version, tenant), or None."""
        agent, version, tenant = run.get("agent"), run.get("version"), run.get("tenant")
        for _seq, pack_hash, document in sorted(published, key=lambda p: p[0], reverse=True):
            if scope_matches(document, agent, version, tenant):
                return pack_hash
        return None

    def pack_info(self, pack_hash: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """What the hooks need to know of a pinned pack, as plain data: `active` (some rule is
        evaluated before calls: record decisions), `enforcing` (some rule enforces: fail closed
        when the pack cannot be confirmed), `taint_tools` (tools whose results are untrusted
        input for the flows). A pack that cannot be loaded is enforcing (fail closed)."""
        try:
            compiled = self.compiled(pack_hash, document)
        except LedgerError:
            return {"active": True, "enforcing": _enforces(document), "taint_tools": []}
        return {"active": compiled.active, "enforcing": compiled.enforcing,
                "taint_tools": list(compiled.taint_tools)}


def _enforces(document: Mapping[str, Any]) -> bool:
    """Whether the raw document (one this process cannot load) enforces anything: its `mode`
    or any `rule_modes` value is `enforce` (read without the schema, which failed)."""
    modes = document.get("rule_modes")
    values = list(modes.values()) if isinstance(modes, Mapping) else []
    return document.get("mode") == "enforce" or "enforce" in values or (
        modes is not None and not isinstance(modes, Mapping))


def _unloadable_shadow(call: ProposedCall, error: str) -> Decision:
    """A pack enforcing nothing that this process cannot load never blocks: allow, with the
    load error recorded as the would-be deny (shadow is for staged rollout)."""
    reason = f"policy pack cannot be used: {error}"
    return Decision(True, reason, "policy", "allow", _load_data(call, reason, "shadow"))


def _unloadable_enforced(call: ProposedCall, error: str) -> Decision:
    """A pack that enforces (or may) and cannot be loaded denies, with the decision to
    record: a deny without data would leave the hooks nothing to prove the refusal with."""
    reason = f"policy pack cannot be used: {error}"
    return Decision(False, reason, "policy", "deny", _load_data(call, reason, "enforce"))


def _load_data(call: ProposedCall, reason: str, mode: str) -> dict[str, Any]:
    """The policy.decided data of a pack that cannot be loaded (rule `policy.load`)."""
    proposed = proposed_of(call)
    basis = LiveBasis.from_json(call.basis or {})
    return {
        "tool_call_id": proposed.tool_call_id, "tool": proposed.tool,
        "args_hash": proposed.args_hash, "decision": "allow" if mode == "shadow" else "deny",
        "would_be": "deny", "mode": mode, "pack_hash": call.pack_hash or "",
        "rules": [{"id": "policy.load", "outcome": "deny", "reason": reason[:500],
                   "mode": mode}],
        "approval_id": None, "basis": basis.to_json(), "evaluator": PRECALL_VERSION,
    }
