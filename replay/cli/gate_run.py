"""`ledger gate run SUITE --label NAME`: run the suite's agent on every task, judge, record.

`run_command` is registered as `run` in the `ledger gate` group (replay/cli/gate_cmd.py). It
prints what `gate check` prints (one line per task and the decision), plus the attempts the
agent errored on; exit 0 only on `pass`, 1 on `fail` / `not_enough_runs`, 2 on bad input (a
suite file error names SUITE:LINE; an entrypoint that cannot be imported is one line). Nothing
heavy is imported at `--help` time: the runner, pydantic and the agent load inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    err,
    say,
    settings_from,
)
from ledger.terminal import printable
from replay.cli.gate_common import (
    JunitOption,
    NoRecordOption,
    SignWithOption,
    SuiteArgument,
    default_user,
    junit_writer,
    print_report,
    record_and_exit,
    write_junit,
)

if TYPE_CHECKING:

    from replay.gate.runner import RunOutcome

__all__ = ["outcome_json", "run_command"]

LabelOption = Annotated[
    str, typer.Option("--label", metavar="NAME",
                      help="Name this candidate (e.g. v5): tagged on every run, compared by "
                           "`ledger gate compare`."),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", metavar="K=V",
                 help="Override one of the suite's agent.params (repeatable; JSON values are "
                      "decoded: --param temperature=0.2)."),
]
Jobs = Annotated[
    int, typer.Option("--jobs", min=1, max=64, help="Attempts run at once (threads).")
]


def run_command(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    suite_file: SuiteArgument,
    label: LabelOption,
    param: ParamOption = None,
    as_: AsOption = None,
    sign_with: SignWithOption = None,
    junit: JunitOption = None,
    json_out: JsonOption = False,
    jobs: Jobs = 1,
    no_record: NoRecordOption = False,
    trust_root_file: TrustRootOption = None,
) -> None:
    """Run every task of SUITE through the agent's entrypoint and the real hooks, then judge.

    Each attempt calls `entrypoint(task.input, **params)` inside `ledger.gate_task(...)`, so its
    runs are tagged (suite, task, attempt, label, suite hash) and carry the versions in force.
    An agent that raises, or records no run, is an errored attempt (a failure, counted). The
    runs are then judged like `ledger gate check` and a `gate.result` is recorded (signed with
    `--sign-with`, else `asserted`). Exit 0 only when the gate passes."""
    from ledger.authority.trust import trust_root
    from ledger.gates import load_gate_signer
    from replay.gate.runner import parse_params, run_suite
    from replay.gate.suite import load_suite

    suite = load_suite(suite_file)
    params = parse_params(param or [])
    writer = junit_writer() if junit is not None else None  # before any attempt runs
    root = trust_root(trust_root_file)
    signer = load_gate_signer(sign_with) if sign_with is not None else None
    settings = settings_from(ctx)
    conn = connection(ctx)
    outcome = run_suite(settings, suite, label=label, params_override=params, jobs=jobs,
                        conn=conn, trust_root=root, recorded_by=as_ or default_user(),
                        signer=signer, record=not no_record)
    if junit is not None:
        write_junit(junit, outcome.data, outcome.report.attempts, outcome.recorded, writer)
    if json_out:
        emit_json(outcome_json(outcome))
    else:
        print_report(outcome.report)
        _print_run(outcome)
    record_and_exit(outcome.decision)


def _print_run(outcome: RunOutcome) -> None:
    errored = [a for a in outcome.attempts if a.error is not None or not a.run_ids]
    total = sum(a.seconds for a in outcome.attempts)
    say(f"ran {len(outcome.attempts)} attempts in {total:.1f}s (agent time), "
        f"{len(errored)} errored")
    for a in errored[:10]:
        say(f"  {printable(a.task)} attempt {a.attempt}: "
            f"{printable(a.error or 'the agent recorded no run')}")
    recorded = outcome.recorded
    if recorded is None:
        err("not recorded (--no-record)")
        return
    why = f" ({recorded.reason})" if recorded.reason else ""
    say(f"recorded gate.result {recorded.event_id}: {recorded.authority}{printable(why)}")


def outcome_json(outcome: RunOutcome) -> dict[str, Any]:
    """The `--json` document: the decision, tasks, attempts (with the runner's errors)."""
    report, recorded = outcome.report, outcome.recorded
    ran = {(a.task, a.attempt): a for a in outcome.attempts}
    attempts = []
    for result in report.attempts:
        doc = result.to_json()
        mine = ran.get((result.task, result.attempt or 0))
        doc["run_id"] = str(mine.run_ids[0]) if mine and mine.run_ids else None
        doc["runs"] = [str(r) for r in mine.run_ids] if mine else []
        doc["seconds"] = round(mine.seconds, 4) if mine else None
        attempts.append(doc)
    return {
        "suite": report.suite.suite, "suite_version": report.suite.version,
        "suite_hash": report.suite.suite_hash, "label": outcome.data.label,
        "decision": report.decision, "params": dict(outcome.params),
        "tasks": [t.model_dump(mode="json") for t in report.tasks],
        "attempts": attempts,
        "versions": [v.model_dump(mode="json") for v in report.versions],
        "recorded": None if recorded is None else {
            "event_id": str(recorded.event_id), "origin": recorded.origin,
            "authority": recorded.authority, "signed": recorded.signed,
            "reason": recorded.reason,
        },
    }
