"""`ledger replay RUN_ID [--at SEQ] [--json]`: a run's state folded from its events (DESIGN §7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    parse_run_id,
    say,
    settings_from,
)
from ledger.errors import InputError

if TYPE_CHECKING:
    import uuid

    import psycopg

    from replay.model import ApprovalRecord, RunState, RunTotals

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _cost(t: RunTotals) -> str:
    """A call without a price is of unknown cost: never shown as $0 (or as a known total)."""
    if not t.llm_calls_without_cost:
        return f"${t.cost_usd}"
    unknown = f"unknown ({t.llm_calls_without_cost} LLM call(s) without cost)"
    return unknown if t.llm_calls_without_cost == t.llm_calls else f"${t.cost_usd} + {unknown}"


def _render(state: RunState) -> str:
    r, t = state.run, state.totals
    lines = [
        f"run {r.run_id}  user {r.initiating_user or '-'}  status {r.status or 'NOT ENDED'}"
        f"  as of seq {state.at_seq}",
        f"versions: prompt {state.versions.prompt_version or '-'}  model "
        f"{state.versions.model or '-'}  policy {(state.versions.policy_hash or '-')[:12]}"
        f"  tools {(state.versions.tool_contract_digest or '-')[:12]}",
        f"totals: {t.llm_calls} LLM calls, {t.tool_calls} tool calls, {t.total_tokens} tokens"
        f" ({t.llm_calls_without_usage} without usage), {_cost(t)}",
        *_who(state),
    ]
    for c in state.tool_calls:
        took = f"{c.duration_ns / 1e9:.3f}s" if c.duration_ns is not None else "OPEN"
        lines.append(f"  tool {c.tool} #{c.attempt} {c.tool_call_id}: {c.status or 'open'} {took}")
    for a in state.approvals:
        lines.append(
            f"  approval {a.approval_id} for {a.tool_call_id}: {a.decision or 'pending'}"
            f" by {a.approver_id or '-'}"
            + (f" (recorded in run {a.decided_run_id})" if a.decided_run_id else "")
            + _signature(state, a)
        )
    for g in state.gaps:
        lines.append(f"  GAP: {g.reason}")
    return "\n".join(lines)


def _who(state: RunState) -> list[str]:
    """Who the run acted for: verified from its recorded token, or asserted (and why)."""
    from replay.identity import identity_lines

    return [] if state.identity is None else identity_lines(state.identity)


def _signature(state: RunState, a: ApprovalRecord) -> str:
    """How the approval's signature stands against the registry in force at its decision."""
    from replay.authority import judge_approval
    from replay.policy.recorded import recorded_args_hash

    call = next((c for c in state.tool_calls if c.tool_call_id == a.tool_call_id), None)
    if a.decided_seq is None or call is None:
        return ""
    judged = judge_approval(state, call, a, recorded_args_hash(call))
    if judged.problem is None:
        return f"; signature verified (registry version {judged.in_force.registry.version})"  # type: ignore[union-attr]
    return f"; signature not verified: {judged.problem}"


def _check_at(conn: psycopg.Connection, run_id: uuid.UUID, at: int) -> None:
    """`--at` must name a seq where the run exists: from its first event to its log's head.

    Why not count from the end (a negative --at): seqs are positions in the log, shared with
    other runs, so `-5` has no natural meaning; before the run's first event the state would be
    an empty run and past the head a state the log never had, both read as answers. One line,
    exit 2, naming the range that works."""
    from ledger.store.runs import seq_bounds

    bounds = seq_bounds(conn, run_id)
    if bounds is None:
        raise InputError(f"no run {run_id} in the ledger")
    if not bounds.first <= at <= bounds.head:
        raise InputError(
            f"--at {at} is outside run {run_id}: give a seq from {bounds.first} (its first "
            f"event) to {bounds.head} (the log's head)"
        )


@app.command("replay")
def replay(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to replay.")],
    at: Annotated[
        int | None,
        typer.Option(
            "--at",
            help="Replay up to this seq of the run's log (from the run's first event's seq to "
            "the log's head; see `ledger show`).",
        ),
    ] = None,
    json_out: JsonOption = False,
    trust_root_file: TrustRootOption = None,
) -> None:
    """Fold a run's events into its state: timeline, calls, approvals, totals, versions."""
    from ledger.authority.trust import trust_root
    from replay.authority import NO_TRUST_NOTE
    from replay.dbread import fold_run

    root = trust_root(trust_root_file)
    conn = connection(ctx)
    rid = parse_run_id(run_id)
    if at is not None:
        _check_at(conn, rid, at)
    state = fold_run(conn, rid, at, trust_root=root, settings=settings_from(ctx))
    if state is None:
        raise InputError(f"no run {run_id} in the ledger")
    if root is None:  # after the work, so an error stays the one line on stderr
        typer.echo(NO_TRUST_NOTE, err=True)
    from replay.stopped import describe, stopped_by

    stop = stopped_by(conn, state)
    if json_out:
        from replay.model import to_jsonable

        found = to_jsonable(state)
        if stop is not None:  # the agent's claim, and whether a recorded stop confirms it
            found["stopped_by"] = {**stop.claim.model_dump(mode="json"),
                                   "confirmed": stop.recorded is not None}
        emit_json(found)
    else:
        say(_render(state) + (f"\n{describe(stop)}" if stop is not None else ""))
