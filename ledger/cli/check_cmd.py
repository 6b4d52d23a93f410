"""`ledger check`: runs against the policy in force (or a given one), with a what-if diff.

Exit codes: 0 when no rule fails, 1 when any rule fails, 2 on usage or policy errors (raised
as InputError/PolicyError and mapped by the root CLI). Verdicts are written to the derived
`ledger_verdicts` table with the evaluator version; they are never part of the hashed log.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.cli.common import connection, emit_json
from ledger.errors import InputError
from ledger.store.read import list_runs, run_events
from replay.ledgerdb import find_policy, save_verdicts
from replay.policy import CompiledPack, Verdict, check_run, compile_pack, load_pack
from replay.policy.diff import diff_verdicts
from replay.runid import parse_run_id
from replay.state import fold

__all__ = ["check"]


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--{name} must be an ISO 8601 time, got {text!r}") from None


def check(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    policy: Annotated[Path | None, typer.Option("--policy", help="Pack file to use.")] = None,
    policy_hash: Annotated[
        str | None, typer.Option("--policy-hash", help="A published pack.")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Check only this run.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Runs started at/after.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Runs started before.")] = None,
    what_if: Annotated[
        Path | None,
        typer.Option("--what-if", help="Also check against this pack and diff the verdicts."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Check runs against policy; exit 1 if any rule fails (CI gate)."""
    if policy is not None and policy_hash is not None:
        raise InputError("give --policy or --policy-hash, not both")
    conn = connection(ctx)
    cache: dict[str, CompiledPack | None] = {}
    fixed: CompiledPack | None = None
    if policy is not None:
        fixed = compile_pack(load_pack(policy))
    elif policy_hash is not None:
        found = find_policy(conn, policy_hash)
        if found is None:
            raise InputError(f"no published policy {policy_hash}")
        fixed = compile_pack(found)
    other = compile_pack(load_pack(what_if)) if what_if is not None else None
    if run is not None:
        run_ids = [parse_run_id(run)]
    else:
        run_ids = [
            r.run_id
            for r in list_runs(conn, since=_when(since, "since"), until=_when(until, "until"))
        ]
    report: list[dict[str, Any]] = []
    failed = False
    for rid in run_ids:
        events = run_events(conn, rid)
        if not events and run is not None:
            raise InputError(f"no run {rid} in the ledger")
        if not events or events[0].event.type == "policy.published":
            continue
        state = fold(events)
        pack = fixed
        verdicts: list[Verdict]
        if pack is None:
            in_force = (
                state.versions.policy_hashes_seen[0] if state.versions.policy_hashes_seen else None
            )
            if in_force is not None and in_force not in cache:
                loaded = find_policy(conn, in_force)
                cache[in_force] = compile_pack(loaded) if loaded else None
            pack = cache.get(in_force) if in_force else None
            if pack is None:
                why = (
                    "records no policy_hash"
                    if in_force is None
                    else f"ran under policy {in_force[:12]}, which is not published"
                )
                verdicts = [
                    Verdict(
                        "policy.in_force", "unknown", f"run {why}", (str(events[0].event.event_id),)
                    )
                ]
        if pack is not None:
            verdicts = check_run(pack, state)
            save_verdicts(conn, str(rid), pack.policy_hash, verdicts, state.at_seq)
        failed = failed or any(v.outcome == "fail" for v in verdicts)
        entry: dict[str, Any] = {
            "run_id": str(rid),
            "policy_hash": pack.policy_hash if pack else None,
            "verdicts": [v.to_json() for v in verdicts],
        }
        if other is not None:
            alt = check_run(other, state)
            entry["what_if"] = {
                "policy_hash": other.policy_hash,
                "verdicts": [v.to_json() for v in alt],
                "diff": diff_verdicts(verdicts, alt).to_json(),
            }
        report.append(entry)
    if json_out:
        emit_json({"runs": report, "failed": failed})
    else:
        _print(report)
    if failed:
        raise typer.Exit(1)


def _print(report: list[dict[str, Any]]) -> None:
    for entry in report:
        typer.echo(f"run {entry['run_id']}  policy {(entry['policy_hash'] or '-')[:12]}")
        for v in entry["verdicts"]:
            typer.echo(f"  {v['outcome'].upper():<7} {v['rule_id']}: {v['explanation']}")
        if "what_if" in entry:
            diff = entry["what_if"]["diff"]
            typer.echo(
                f"  what-if {entry['what_if']['policy_hash'][:12]}: "
                f"newly failing {diff['newly_failing'] or '-'}, "
                f"newly passing {diff['newly_passing'] or '-'}"
            )
            for change in diff["changed"]:
                typer.echo(f"    {change['rule_id']}: {change['before']} -> {change['after']}")
