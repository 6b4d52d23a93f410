"""`ledger gate compare`: the candidate against the baseline, from recorded gate results.

Exit codes: 0 the candidate passed, 1 a regression (a task or overall worse at --alpha, or an
adversarial task failed) or not enough runs (never a pass), 2 bad input (an unknown label or
selector: one line). The comparison is itself recorded as a gate.result (kind `compare`) unless
--no-record; --sign-with signs it (the registry's service_key: `registry`, else `asserted`).
`compare_command` is registered in the `ledger gate` group (replay/cli/gate_cmd.py).
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    say,
    settings_from,
    table,
)
from ledger.errors import InputError
from ledger.terminal import printable
from replay.cli.gate_common import JunitOption, NoRecordOption, SignWithOption

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.gates import GateRecorded
    from replay.gate.compare import Comparison, Pool, TaskComparison

__all__ = ["compare_command", "recorded_line"]

_Side = "LABEL or SELECTOR (prompt=NAME/V, model=M, agent=NAME@VER, label=L, suite=S)"


def _cell(pool: Pool) -> str:
    if pool.attempts == 0:
        return "0/0"
    i = pool.interval
    return f"{pool.passes}/{pool.attempts} {i.rate:.2f} [{i.low:.2f}, {i.high:.2f}]"


def _row(t: TaskComparison) -> list[str]:
    p = "-" if t.p_value is None else f"{t.p_value:.3f}"
    verdict = t.verdict.replace("_", " ")
    return [t.task, "yes" if t.adversarial else "no", _cell(t.baseline), _cell(t.candidate), p,
            verdict]  # fmt: skip


def recorded_line(done: GateRecorded) -> str:
    """`recorded gate.result ID in ORIGIN (registry, signed)` (+ why asserted)."""
    signed = "signed" if done.signed else "unsigned"
    why = f": {printable(done.reason)}" if done.reason else ""
    where = f"{done.event_id} in {done.origin}"
    return f"recorded gate.result {where} ({done.authority}, {signed}){why}"


def _say_comparison(cmp: Comparison) -> None:
    """The table, then one line per finding and the decision."""
    headers = ["TASK", "ADV", "BASELINE (WILSON 95%)", "CANDIDATE (WILSON 95%)", "P", "VERDICT"]
    say(table([_row(t) for t in (*cmp.tasks, cmp.overall)], headers))
    for t in (*cmp.tasks, cmp.overall):  # recorded task names: each value escaped, \n too
        if t.reason:
            say(f"{printable(t.task)}: {printable(t.reason)}")
    if cmp.decision == "fail":
        say(f"regression: {printable(', '.join(cmp.regressions))}")
    elif cmp.decision == "not_enough_runs":
        say(f"not enough runs for {printable(', '.join(cmp.short))}: not a pass (at least "
            f"{cmp.min_repeats} attempts per task on each side)")  # fmt: skip
    else:
        say(f"pass: the candidate {printable(cmp.candidate.text)} is not worse than "
            f"{printable(cmp.baseline.text)}")


def _tenant(settings: Settings, origin: str) -> str:
    """The tenant whose log holds `origin` (the comparison is recorded beside its results)."""
    prefix = f"{settings.origin_prefix}/"
    return origin[len(prefix):] if origin.startswith(prefix) else settings.tenant


def compare_command(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    baseline: Annotated[
        str, typer.Option("--baseline", metavar="SIDE", help=f"Baseline: {_Side}.")
    ],
    candidate: Annotated[
        str, typer.Option("--candidate", metavar="SIDE", help=f"Candidate: {_Side}.")
    ],
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", help="One-sided Fisher test level (default: the suite's "
                                     "recorded alpha, else 0.05).")
    ] = None,
    min_repeats: Annotated[
        int | None,
        typer.Option("--min-repeats", help="Fewer attempts per task: not enough runs "
                                           "(default: the suite's min_repeats, at least 5).")
    ] = None,
    suite: Annotated[
        str | None, typer.Option("--suite", metavar="NAME", help="Only results of this suite.")
    ] = None,
    junit: JunitOption = None,
    json_out: JsonOption = False,
    as_: AsOption = None,
    sign_with: SignWithOption = None,
    trust_root: TrustRootOption = None,
    no_record: NoRecordOption = False,
) -> None:
    """Compare two versions' gate results: per task and overall pass rates, exit 1 on regression."""
    from ledger.authority.trust import trust_root as load_root
    from ledger.gates import load_gate_signer, record_gate_result
    from replay.gate.compare import (
        compare_sides,
        comparison_json,
        distinct_sides,
        resolve_side,
        suite_settings,
    )
    from replay.gate.junit import write_junit

    if junit is not None and not junit.parent.is_dir():
        raise InputError(f"--junit {junit}: no such directory {junit.parent}")
    settings, conn = settings_from(ctx), connection(ctx)
    signer = load_gate_signer(sign_with) if sign_with else None
    base = resolve_side(conn, settings, baseline, suite=suite, role="baseline")
    cand = resolve_side(conn, settings, candidate, suite=suite, role="candidate")
    distinct_sides(base, cand)
    alpha, min_repeats = suite_settings(base, cand, alpha, min_repeats)
    cmp = compare_sides(base, cand, alpha=alpha, min_repeats=min_repeats)
    data = cmp.to_event(as_ or getpass.getuser(), suite)
    done = None
    if not no_record:
        done = record_gate_result(conn, settings, data, signer=signer, root=load_root(trust_root),
                                  tenant=_tenant(settings, cand.results[0].origin))  # fmt: skip
    if junit is not None:
        write_junit(junit, data, event_id=done.event_id if done else None)
    recorded: dict[str, Any] | None = None if done is None else {
        "event_id": str(done.event_id), "origin": done.origin, "authority": done.authority,
        "signed": done.signed, "reason": done.reason}  # fmt: skip
    if json_out:
        emit_json(comparison_json(cmp, recorded))
    else:
        _say_comparison(cmp)
        if done is not None:
            say(recorded_line(done))
    if cmp.decision != "pass":
        raise typer.Exit(1)
