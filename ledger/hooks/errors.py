"""Errors the hooks raise into agent code.

Four errors cross from the ledger into an agent, each *instead of running* something:
- `LedgerUnavailable`: a side-effecting tool whose intent could not be durably recorded (fail
  closed). It subclasses `DatabaseUnavailable`, so one clause handles every "ledger is down".
- `RunStopped`: the run (or a scope it is in: agent@version, tenant, tool, model, prompt) was
  stopped by someone the registry allows (DESIGN §14). Raised before a tool body, before an LLM
  call is recorded as started, while waiting for an approval, and when a run starts in a stopped
  scope. The run then ends with status `stopped` and a `run.ended` naming who stopped it.
- `PolicyDenied`: the pack in force, in `enforce` mode, denied this tool call before it ran; the
  decision is already in the ledger (`decision_event_id`).
- `ApprovalRequired`: the pack in force requires an approval for this exact call; approve
  `tool_call_id` / `args_hash` (for example `ledger approve APPROVAL_ID --as PRINCIPAL`) and call
  the tool again with the same arguments: the retry reuses the pending `tool_call_id`.

Agent code may catch `LiveControl` to handle all three decisions with one clause. None of them is
a bug: a framework integration turns a denial into the framework's own tool error, so the model
can recover, and a stop into the framework's halt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ledger.errors import DatabaseUnavailable, ExitCode, LedgerError

__all__ = ["ApprovalRequired", "LedgerUnavailable", "LiveControl", "PolicyDenied",
           "RunAlreadyEnded", "RunExists", "RunNotFound", "RunStopped", "StopInfo"]


class LedgerUnavailable(DatabaseUnavailable):
    """A side-effecting tool was not run because its intent could not be recorded durably."""


class RunNotFound(LedgerError, LookupError):
    """`ledger.resume`: no agent run with that id that this tenant (credential) may see."""


class RunAlreadyEnded(LedgerError, LookupError):
    """`ledger.resume`: the run has a `run.ended`; nothing may follow it (nothing was written)."""


class RunExists(LedgerError, ValueError):
    """`ledger.run(run_id=X)` names a new run, and X is already in the ledger: starting it
    again would restart its chain at run_seq 0. Continue it with `ledger.resume(X)`."""


@dataclass(frozen=True, slots=True)
class StopInfo:
    """One stop in force: what it targets, who asked, why, and the event that recorded it.

    `target` is one of `run:<run_id>`, `agent:<name>`, `agent:<name>@<version>`,
    `tenant:<tenant>`, `tool:<glob>`, `model:<glob>`, `prompt:<name>/<version>`.
    `authority` is `registry` (granted and signed) or `asserted` (no registry to judge by).
    """

    target: str
    requested_by: str
    reason: str = ""
    stop_event_id: uuid.UUID | None = None
    authority: str = "asserted"
    recorded_at: str | None = None
    origin: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class LiveControl(LedgerError):
    """Base of the decisions the ledger enforces live (stop, deny, approval required)."""

    exit_code = ExitCode.INVALID
    label = "refused"


class RunStopped(LiveControl):
    """The run, or a scope it belongs to, is stopped: nothing more of it may run."""

    def __init__(self, run_id: uuid.UUID | None, stop: StopInfo, where: str = "") -> None:
        self.run_id = run_id
        self.stop = stop
        self.where = where
        at = f" ({where})" if where else ""
        super().__init__(
            f"run {run_id} stopped{at}: {stop.target} stopped by {stop.requested_by} "
            f"[{stop.authority}]" + (f": {stop.reason}" if stop.reason else "")
        )


class PolicyDenied(LiveControl):
    """The pack in force denied this tool call before its body ran (decision recorded first)."""

    def __init__(self, *, tool: str, tool_call_id: str, rules: tuple[str, ...],
                 reasons: tuple[str, ...], pack_hash: str,
                 decision_event_id: uuid.UUID | None = None) -> None:
        self.tool = tool
        self.tool_call_id = tool_call_id
        self.rules = rules
        self.reasons = reasons
        self.pack_hash = pack_hash
        self.decision_event_id = decision_event_id
        why = "; ".join(reasons) or ", ".join(rules)
        super().__init__(f"tool {tool} ({tool_call_id}) denied by policy {pack_hash[:12]}: {why}")


class ApprovalRequired(LiveControl):
    """The pack in force requires a signed approval for this exact call before it may run."""

    def __init__(self, *, tool: str, tool_call_id: str, args_hash: str, approval_id: str,
                 rules: tuple[str, ...], reasons: tuple[str, ...], pack_hash: str,
                 decision_event_id: uuid.UUID | None = None) -> None:
        self.tool = tool
        self.tool_call_id = tool_call_id
        self.args_hash = args_hash
        self.approval_id = approval_id
        self.rules = rules
        self.reasons = reasons
        self.pack_hash = pack_hash
        self.decision_event_id = decision_event_id
        why = "; ".join(reasons) or ", ".join(rules)
        super().__init__(
            f"tool {tool} ({tool_call_id}) needs approval {approval_id} (args_hash "
            f"{args_hash[:16]}): {why}"
        )
