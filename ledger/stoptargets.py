"""The stop-target grammar's text helpers: agent names and tool names made unambiguous.

Why: agent and tool names are the agent's own text. `agent:<name>@<version>` split at an '@'
aims a stop at the wrong agent when the name holds one (`support@acme`), and `tool:<glob>` built
from a raw tool name aims it at other tools when the name holds glob characters (`wire[1]`).
So in an `agent:` target the NAME part is percent-encoded for '%' and '@' (`agent:support%40acme`,
`agent:support%40acme@1.0`), the first raw '@' separates the version, and a tool name becomes a
glob that matches only itself. Why its own module and not ledger.stops: the read-only TUI
(tests/tui/test_readonly_imports.py) and the hooks' matcher use it without importing the write
service; ledger.stops re-exports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

__all__ = ["agent_target", "glob_literal", "parse_agent_target", "target_covers"]


def _encode(name: str) -> str:
    return name.replace("%", "%25").replace("@", "%40")


def _decode(text: str) -> str:
    """Undo `_encode` (only %25 and %40 mean anything; any other '%' stays as it is)."""
    out, i = [], 0
    while i < len(text):
        chunk = text[i : i + 3]
        if chunk in ("%25", "%40"):
            out.append("%" if chunk == "%25" else "@")
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def agent_target(name: str, version: str | None = None) -> str:
    """`agent:<NAME>[@<VERSION>]` with '%' and '@' of NAME percent-encoded."""
    target = f"agent:{_encode(name)}"
    return f"{target}@{version}" if version else target


def parse_agent_target(value: str) -> tuple[str, str | None]:
    """(name, version or None) of the value of an `agent:` target (the part after `agent:`):
    the first raw '@' separates the version; the name is percent-decoded."""
    name, at, version = value.partition("@")
    return _decode(name), (version if at and version else None)


def glob_literal(text: str) -> str:
    """`text` as an fnmatch pattern that matches only itself (stop targets of tools are globs)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def target_covers(
    target: str, target_run_id: object, *, run_id: str, tenant: str, agent: str | None,
    version: str | None, tools: Iterable[str] = (), model: str | None = None,
    prompt: str | None = None,
) -> bool:
    """Does a recorded stop's target cover this run (COMMON16's grammar, judged after the fact:
    a tool target covers a run that called a matching tool)? Used to confirm a run.ended's
    `stopped_by` claim against the stops the ledger recorded."""
    if target_run_id is not None and str(target_run_id) == run_id:
        return True
    kind, _, value = target.partition(":")
    if kind == "run":
        return value == run_id
    if kind == "agent":
        name, want = parse_agent_target(value)
        return agent is not None and name == agent and (want is None or want == version)
    if kind == "tenant":
        return value == tenant
    if kind == "tool":
        return any(fnmatchcase(t, value) for t in tools)
    if kind == "model":
        return model is not None and fnmatchcase(model, value)
    return kind == "prompt" and prompt is not None and value == prompt
