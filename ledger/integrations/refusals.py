"""What a framework shows for a live-control refusal: one line the model (or the caller) can act on.

The hooks raise `RunStopped`, `PolicyDenied` and `ApprovalRequired` instead of running a tool
body (ledger/hooks/errors.py). Each integration turns a stop into its framework's halt and a
denial into its framework's tool error; this module is the one place that words the tool error,
so LangGraph, the OpenAI Agents SDK and MCP tell the model the same thing: which rules refused
the call and why, and for an approval exactly what to approve (`approval_id`, `tool_call_id`,
`args_hash`) so a retry with the same arguments can run once a signed decision exists.
"""

from __future__ import annotations

from ledger.hooks.errors import ApprovalRequired, LiveControl, PolicyDenied, RunStopped

__all__ = ["is_denial", "refusal_text"]


def _one_line(text: str) -> str:
    """Reasons may quote tool arguments: keep the message on one line for logs and models."""
    return " ".join(text.split())


def _rules(exc: PolicyDenied | ApprovalRequired) -> str:
    rules = ", ".join(exc.rules) or "-"
    reasons = "; ".join(exc.reasons) or "-"
    return f"rules: {rules}; reasons: {reasons}; policy {exc.pack_hash[:12]}"


def refusal_text(exc: LiveControl) -> str:
    """The tool error (or halt) text for a live-control refusal; the body did not run."""
    if isinstance(exc, ApprovalRequired):
        text = (f"ledger: tool {exc.tool} needs approval before it may run: "
                f"approval_id={exc.approval_id} tool_call_id={exc.tool_call_id} "
                f"args_hash={exc.args_hash}; {_rules(exc)}. Once approved, call the tool "
                "again with the same arguments.")
    elif isinstance(exc, PolicyDenied):
        text = (f"ledger: tool {exc.tool} denied by policy (tool_call_id={exc.tool_call_id}); "
                f"{_rules(exc)}. The call did not run.")
    elif isinstance(exc, RunStopped):
        text = f"ledger: {exc}. Nothing more of this run may run."
    else:
        text = f"ledger: {exc}"
    return _one_line(text)


def is_denial(exc: BaseException) -> bool:
    """A denial the model can recover from (a tool error), as opposed to a stop (a halt)."""
    return isinstance(exc, PolicyDenied | ApprovalRequired)
