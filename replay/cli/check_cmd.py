"""`ledger check`: runs against the policy in force (or a given one), with a what-if diff.

Exit codes: 0 when no rule fails, 1 when any rule fails, 2 on usage or policy errors (raised
as InputError/PolicyError and mapped by the root CLI). Verdicts are written to the derived
`ledger_verdicts` table with the evaluator version; they are never part of the hashed log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    RunsSince,
    RunsUntil,
    TrustRootOption,
    connection,
    emit_json,
    input_option,
    parse_run_id,
    say,
    settings_from,
    when,
)
from ledger.errors import InputError

if TYPE_CHECKING:
    from replay.batch import RunCheck

__all__ = ["app", "summary"]

app = typer.Typer(add_completion=False)


@app.command("check")
def check(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    run_arg: Annotated[
        str | None,
        typer.Argument(metavar="[RUN_ID]", help="Check only this run (same as --run)."),
    ] = None,
    policy: Annotated[Path | None, input_option("--policy", help="Pack file to use.")] = None,
    policy_hash: Annotated[
        str | None, typer.Option("--policy-hash", help="A published pack.")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Check only this run.")] = None,
    since: RunsSince = None,
    until: RunsUntil = None,
    what_if: Annotated[
        Path | None,
        input_option("--what-if", help="Also check against this pack and diff the verdicts."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", help="Worker processes for large windows (at least 1; default: CPUs)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print every verdict, passes too.")
    ] = False,
    json_out: JsonOption = False,
    trust_root_file: TrustRootOption = None,
) -> None:
    """Check runs against policy; exit 1 if any rule fails (CI gate).

    Prints the failing and unknown verdicts of each run (`--verbose`: every verdict) and one
    summary line: how many runs passed, failed (and how many rules failed) or stayed unknown,
    and the policy they were judged by."""
    from ledger.authority.trust import trust_root
    from replay.authority import NO_TRUST_NOTE
    from replay.batch import window_run_ids
    from replay.policy import load_pack
    from replay.policy.service import check_in_force

    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs must be at least 1 (got {jobs})")
    run = _one_run(run_arg, run)
    root = trust_root(trust_root_file)
    fixed = load_pack(policy) if policy is not None else None
    other = load_pack(what_if) if what_if is not None else None
    conn = connection(ctx)
    if run is not None:
        run_ids = [parse_run_id(run)]
    else:
        run_ids = window_run_ids(conn, when(since, "--since"), when(until, "--until"))
    result = check_in_force(
        conn,
        settings_from(ctx),
        run_ids,
        policy=fixed,
        policy_hash=policy_hash,
        what_if=other,
        jobs=jobs or os.cpu_count() or 1,
        trust_root=root,
    )
    if run is not None and result.missing:
        raise InputError(f"no run {run_ids[0]} in the ledger")
    if root is None:  # after the work, so an error stays the one line on stderr
        typer.echo(NO_TRUST_NOTE, err=True)
    if json_out:
        emit_json(result.to_json())
    else:
        _print(result.entries, verbose=verbose)
        say(summary(result.entries))
    if result.failed:
        raise typer.Exit(1)


def _one_run(positional: str | None, option: str | None) -> str | None:
    """The run to check: `ledger check RUN_ID` as `ledger show`/`replay` take it, or `--run`
    (kept for scripts); both at once is a usage error rather than a silent pick."""
    if positional is not None and option is not None:
        raise InputError("give the run once: `ledger check RUN_ID` or `ledger check --run RUN_ID`")
    return positional if positional is not None else option


def _print(report: list[RunCheck], *, verbose: bool) -> None:
    """Each run with something to read: a failing or unknown verdict, or a what-if change;
    with `verbose`, every run and every verdict (the pre-issue-18 output)."""
    for entry in report:
        shown = [v for v in entry.verdicts if verbose or v.outcome != "pass"]
        moved = entry.what_if is not None and not entry.what_if.diff.empty
        if not (shown or moved or verbose):
            continue
        say(f"run {entry.run_id}  policy {(entry.policy_hash or '-')[:12]}")
        for v in shown:
            say(f"  {v.outcome.upper():<7} {v.rule_id}: {v.explanation}")
        if entry.what_if is not None and (moved or verbose):
            diff = entry.what_if.diff
            say(
                f"  what-if {entry.what_if.policy_hash[:12]}: "
                f"newly failing {list(diff.newly_failing) or '-'}, "
                f"newly passing {list(diff.newly_passing) or '-'}"
            )
            for rule_id, before, after in diff.changed:
                say(f"    {rule_id}: {before} -> {after}")


def summary(report: list[RunCheck]) -> str:
    """`checked 10000 runs: 9990 pass, 7 fail (12 rules), 3 unknown; policy 7c024c1669bb`.

    A run fails when any rule fails, is unknown when none fails but one is unknown, else
    passes; `(N rules)` counts the distinct rules failing anywhere."""
    failed = [e for e in report if e.failures]
    unknown = [e for e in report if not e.failures and any(v.outcome == "unknown"
                                                            for v in e.verdicts)]
    rules = {v.rule_id for e in failed for v in e.failures}
    passed = len(report) - len(failed) - len(unknown)
    policies = sorted({e.policy_hash for e in report if e.policy_hash})
    judged = (f"policy {policies[0][:12]}" if len(policies) == 1
              else f"{len(policies)} policies" if policies else "no policy in force")
    runs = "run" if len(report) == 1 else "runs"
    rule_word = "rule" if len(rules) == 1 else "rules"
    return (f"checked {len(report)} {runs}: {passed} pass, {len(failed)} fail "
            f"({len(rules)} {rule_word}), {len(unknown)} unknown; {judged}")
