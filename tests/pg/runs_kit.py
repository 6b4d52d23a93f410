"""Runs of any shape for the `ledger runs` / `check` / `show` / `replay` CLI tests (issue 18).

`run_of` builds a chained run with the agent, initiating user, status, tenant, start time and
trust a test needs; `ledger_main` runs the real root command in this process (the entry points,
the root options, the error mapping of `ledger.cli.main`) so a test of many options stays fast;
the one-line errors are also asserted through a real process (the `cli` fixture).
"""

from __future__ import annotations

import io
import sys
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger import ids
from ledger.config import Settings
from ledger.events import EventBase, args_hash, leaf_hash, make_event
from ledger.store.append import encode_for_intake

__all__ = ["Out", "ledger_main", "run_of"]


@dataclass(frozen=True)
class Out:
    """What one `ledger` invocation did: exit code, stdout, stderr."""

    code: int
    stdout: str
    stderr: str


def ledger_main(settings: Settings, *args: str) -> Out:
    """`ledger --dsn D --home H ARGS...` through `ledger.cli.main`, in this process."""
    from ledger.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = ["ledger", "--dsn", settings.dsn or "", "--home", str(settings.home), *args]
    saved, sys.argv = sys.argv, argv
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        sys.argv = saved
    return Out(code, out.getvalue(), err.getvalue())


def run_of(
    *,
    agent: str = "support",
    user: str = "alice@example.com",
    status: str | None = "succeeded",
    tenant: str = "default",
    start_ns: int | None = None,
    tools: int = 1,
    trust: str = "live",
    content: str | None = None,
    policy_hash: str | None = None,
) -> list[EventBase]:
    """One run with a correct hash chain; `status=None` leaves it open (no run.ended)."""
    run_id, events, prev = uuid.uuid4(), [], None
    clock = start_ns if start_ns is not None else ids.now_ns()
    scratch = Settings(home=Path("/nonexistent"))
    envelope: dict[str, Any] = {
        "tenant": tenant, "trust": trust, "agent": {"name": agent},
        "principal": {"initiating_user": user}, "versions": {"policy_hash": policy_hash},
    }

    def add(kind: str, data: dict[str, Any]) -> None:
        nonlocal prev
        when = ids.format_timestamp(clock + len(events) * 1_000_000)
        event = make_event(kind, run_id=run_id, run_seq=len(events), prev_run_hash=prev,
                           data=data, occurred_at=when, **envelope)
        prev = leaf_hash(encode_for_intake(event, scratch).body).hex()
        events.append(event)

    add("run.started", {"task": "test"})
    if content is not None:
        add("message.input", {"role": "user", "content": content})
    for i in range(tools):
        call_args = {"i": i}
        add("tool.call.started", {"tool_call_id": f"t{i}", "tool": "crm.update",
                                  "args": call_args, "args_hash": args_hash(call_args),
                                  "side_effect": True})
        add("tool.call.ended", {"tool_call_id": f"t{i}", "tool": "crm.update", "status": "ok"})
    if status is not None:
        add("run.ended", {"status": status, "event_count": len(events) + 1, "last_hash": prev})
    return events
