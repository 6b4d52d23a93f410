"""`ledger replay RUN_ID [--at SEQ] [--json]`: a run's state folded from its events (DESIGN §7)."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli.common import connection, emit_json, parse_run_id
from ledger.errors import InputError
from replay.dbread import load_run
from replay.model import RunState, to_jsonable
from replay.state import fold

__all__ = ["replay"]


def _render(state: RunState) -> str:
    r, t = state.run, state.totals
    lines = [
        f"run {r.run_id}  user {r.initiating_user or '-'}  status {r.status or 'NOT ENDED'}"
        f"  as of seq {state.at_seq}",
        f"versions: prompt {state.versions.prompt_version or '-'}  model "
        f"{state.versions.model or '-'}  policy {(state.versions.policy_hash or '-')[:12]}"
        f"  tools {(state.versions.tool_contract_digest or '-')[:12]}",
        f"totals: {t.llm_calls} LLM calls, {t.tool_calls} tool calls, {t.total_tokens} tokens"
        f" ({t.llm_calls_without_usage} without usage), ${t.cost_usd}",
    ]
    for c in state.tool_calls:
        took = f"{c.duration_ns / 1e9:.3f}s" if c.duration_ns is not None else "OPEN"
        lines.append(f"  tool {c.tool} #{c.attempt} {c.tool_call_id}: {c.status or 'open'} {took}")
    for a in state.approvals:
        lines.append(
            f"  approval {a.approval_id} for {a.tool_call_id}: {a.decision or 'pending'}"
            f" by {a.approver_id or '-'}"
            + (f" (recorded in run {a.decided_run_id})" if a.decided_run_id else "")
        )
    for g in state.gaps:
        lines.append(f"  GAP: {g.reason}")
    return "\n".join(lines)


def replay(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to replay.")],
    at: Annotated[int | None, typer.Option("--at", help="Replay up to this seq.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Fold a run's events into its state: timeline, calls, approvals, totals, versions."""
    events, decisions = load_run(connection(ctx), parse_run_id(run_id))
    if not events:
        raise InputError(f"no run {run_id} in the ledger")
    state = fold(events, at_seq=at, decisions=decisions)
    if json_out:
        emit_json(to_jsonable(state))
    else:
        typer.echo(_render(state))
