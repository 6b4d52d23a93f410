"""What the TUI shows of the kill switch: the stops in force, who stopped a run, which scopes
the Stop panel offers.

Why its own read-only module: the board, the timeline (`ledger tui --run`) and the Stop panel
show the same stop lines, and a read-only auditor session must see them without importing a
write API (tests/tui/test_readonly_imports.py). The stop state is read through the 0016 read
API (`ledger.store.stops.stops_since`), never a side table; every recorded field (target,
requester, reason) is a writer's or operator's text and is drawn with `literal`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

import orjson
import psycopg
from rich.text import Text

from ledger.stoptargets import agent_target, glob_literal
from ledger.store.stops import StopRow, stops_since
from tui.literal import literal

__all__ = [
    "STATUS_STYLE",
    "active_stops",
    "applying",
    "run_stop_note",
    "scope_choices",
    "stop_line",
    "stopped_by",
]

STATUS_STYLE = {"stopped": "bold magenta", "failed": "red", "cancelled": "yellow"}


def active_stops(conn: psycopg.Connection) -> list[StopRow]:
    """The stops in force in every log this session may read, oldest first."""
    _, rows = stops_since(conn, None, 0)
    return [r for r in rows if not r.lifted]


def stop_line(stop: StopRow, *, hide_time: bool = False) -> Text:
    """`■ STOP agent:x by bob (registry) since 2026-…: reason`, recorded text drawn literally."""
    since = "" if hide_time else f" since {stop.recorded_at:%Y-%m-%d %H:%M:%S}Z"
    line = Text("■ STOP ", style="bold magenta", end="")
    line.append_text(literal(stop.target, style="bold"))
    line.append_text(literal(f" by {stop.requested_by} ({stop.authority or 'asserted'}){since}"))
    if stop.reason:
        line.append_text(literal(f": {stop.reason}"))
    return line


def stopped_by(
    conn: psycopg.Connection, docs: Sequence[dict[str, Any]], run_id: str, origin: str
) -> str | None:
    """`stopped by X (registry|asserted) via T: reason` for a run whose run.ended says it was
    stopped (issue 16's `stopped_by`), from the stop the ledger recorded (replay.stopped: the
    run.ended is the agent's own claim, confirmed against ledger_stops), "claimed by the agent;
    no such stop recorded" when nothing confirms it, None when not stopped or malformed."""
    from replay.stopped import claim_of, confirm, describe

    ended = [d for d in docs if isinstance(d, dict) and d.get("type") == "run.ended"]
    claim = claim_of(ended[-1].get("data")) if ended else None
    if claim is None:
        return None
    tenant, agent, version = _facts(docs)
    first = docs[0] if docs else {}
    found_versions = first.get("versions")
    versions: dict[str, Any] = found_versions if isinstance(found_versions, dict) else {}
    model, prompt = versions.get("model"), versions.get("prompt_version")
    found = confirm(
        conn, origin, claim, run_id=run_id, tenant=tenant, agent=agent or None,
        version=version or None, tools=_tools(docs),
        model=model if isinstance(model, str) else None,
        prompt=prompt if isinstance(prompt, str) else None,
    )  # fmt: skip
    return describe(found)


def _tools(docs: Sequence[dict[str, Any]]) -> set[str]:
    """The tools a run called (tool.call.started), as text."""
    return {str((d.get("data") or {}).get("tool")) for d in docs
            if d.get("type") == "tool.call.started" and isinstance(d.get("data"), dict)}


def _facts(docs: Sequence[dict[str, Any]]) -> tuple[str, str, str]:
    """(tenant, agent name, agent version) of a run from its first event."""
    first = docs[0] if docs else {}
    agent = first.get("agent") or {}
    return (str(first.get("tenant") or "default"), str(agent.get("name") or ""),
            str(agent.get("version") or ""))  # fmt: skip


def scope_choices(
    run_id: str, docs: Sequence[dict[str, Any]], tool: str | None = None
) -> list[tuple[str, str]]:
    """(label, target) of the scopes the Stop panel offers for a run, the run first (the
    default): this run, this agent@version, this agent, this tenant, and this tool when the
    panel was opened on a tool call."""
    tenant, agent, version = _facts(docs)
    out = [("this run", f"run:{uuid.UUID(run_id)}")]
    if agent and version:
        out.append((f"agent {agent}@{version}", agent_target(agent, version)))
    if agent:
        out.append((f"agent {agent}", agent_target(agent)))
    out.append((f"tenant {tenant}", f"tenant:{tenant}"))
    if tool:  # a glob matching only this tool, whatever characters its name holds
        out.append((f"tool {tool}", f"tool:{glob_literal(tool)}"))
    return out


def applying(
    stops: Sequence[StopRow], run_id: str, docs: Sequence[dict[str, Any]], origin: str
) -> list[StopRow]:
    """The active stops that name this run, its agent (and version), its tenant, or (a glob
    matching) a tool it called, in the run's own log (a stop applies to its tenant only)."""
    tenant, agent, version = _facts(docs)
    tools = _tools(docs)
    names = {f"run:{run_id}", f"tenant:{tenant}"}
    if agent:
        names |= {agent_target(agent)} | ({agent_target(agent, version)} if version else set())

    def hits(target: str) -> bool:  # tool targets are globs on the tools the run called
        glob = target.removeprefix("tool:")
        return target in names or (glob != target and any(fnmatchcase(t, glob) for t in tools))

    return [s for s in stops if s.origin == origin and hits(s.target)]


def run_stop_note(conn: psycopg.Connection, run_id: str, *, hide_time: bool = False) -> Text:
    """One line for the timeline of one run (`ledger tui --run`): who stopped it, and the stops
    in force that apply to it; empty when neither (the title stays as it was)."""
    from ledger.store.read import run_events
    from ledger.store.stops import stops_since as _since

    stored = run_events(conn, uuid.UUID(run_id))
    if not stored:
        return Text()
    docs = [orjson.loads(s.body) for s in stored]
    parts: list[Text] = []
    if (stopped := stopped_by(conn, docs, str(uuid.UUID(run_id)), stored[-1].origin)) is not None:
        parts.append(literal(stopped, style="bold magenta"))
    rows = [r for r in _since(conn, None, 0)[1] if not r.lifted]
    parts += [stop_line(r, hide_time=hide_time) for r in
              applying(rows, run_id, docs, stored[-1].origin)]  # fmt: skip
    return Text(" │ ").join(parts)
