"""`ledger gate`: release gates over golden and adversarial task suites (issue 19).

`check` judges runs already recorded (a team's own runner or pytest tagged them with
`ledger.gate_task`); `run` (replay.gate.runner) runs the suite's agent and judges what it
recorded; `compare` weighs two sides. Each records its result as a `gate.result` event (signed
with `--sign-with`, else `asserted`) unless `--no-record`. Exit codes: 0 only when the decision
is `pass`; 1 on `fail` or `not_enough_runs`; 2 on bad input (a suite file error names
`SUITE:LINE`). Nothing heavy is imported at `--help` time (pydantic, yaml, celpy load inside the
commands: tests/cli/test_help_imports.py).
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
from replay.cli.gate_compare import compare_command
from replay.cli.gate_run import run_command

if TYPE_CHECKING:
    from ledger.gates import GateRecorded
    from replay.gate.check import CheckResult

__all__ = ["app", "print_report", "record_and_exit"]

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.callback()
def gate() -> None:
    """Release gates: judge golden and adversarial task suites (run, check, compare)."""

@app.command("check")
def check(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    suite_file: SuiteArgument,
    runs: Annotated[
        str,
        typer.Option("--runs", metavar="FILTER",
                     help="Which recorded runs: label=NAME,agent=NAME[@VERSION],prompt=NAME/V,"
                          "model=M,policy=HASHPREFIX,tenant=T,suite=S,since=TIME,until=TIME "
                          "(a bare word is a label)."),
    ],
    as_: AsOption = None,
    sign_with: SignWithOption = None,
    junit: JunitOption = None,
    json_out: JsonOption = False,
    no_record: NoRecordOption = False,
    trust_root_file: TrustRootOption = None,
) -> None:
    """Judge already-recorded runs against a suite; exit 0 only when the gate passes.

    Runs are matched to tasks by the gate tag their run.started carries (`ledger.gate_task`);
    untagged runs, runs of another suite or agent and runs of tasks the suite lacks are counted
    and reported, never guessed. One line per task (verdict, passed/attempts, first reason)
    and a summary; exit 1 on `fail` or `not_enough_runs`."""
    from ledger.authority.trust import trust_root
    from replay.gate.check import check_suite
    from replay.gate.selector import parse_selector
    from replay.gate.suite import load_suite

    suite = load_suite(suite_file)
    selector = parse_selector(runs)
    root = trust_root(trust_root_file)
    signer = _signer(sign_with)
    writer = junit_writer() if junit is not None else None
    settings = settings_from(ctx)
    conn = connection(ctx)
    found = check_suite(conn, settings, suite, selector, trust_root=root)
    recorded = None
    data = found.report.to_event("check", selector.label, as_ or default_user())
    if not no_record:
        from ledger.gates import record_gate_result

        recorded = record_gate_result(conn, settings, data, signer=signer, root=root,
                                      tenant=_tenant(found))
    if junit is not None and writer is not None:
        write_junit(junit, data, found.report.attempts, recorded, writer)
    if json_out:
        emit_json(_check_json(found, recorded))
    else:
        print_report(found.report)
        _print_selection(found)
        _print_recorded(recorded)
    record_and_exit(found.report.decision)


def _signer(spec: str | None) -> Any:
    if spec is None:
        return None
    from ledger.gates import load_gate_signer

    return load_gate_signer(spec)


def _tenant(found: CheckResult) -> str | None:
    """The log the result goes to: the runs' own tenant when the selection names one or the
    judged runs share one (else the configured tenant)."""
    if found.selector.tenant is not None:
        return found.selector.tenant
    tenants = {t for t in found.tenants if t}
    return tenants.pop() if len(tenants) == 1 else None


def _print_selection(found: CheckResult) -> None:
    m = found.matched
    say(f"runs: {found.selected} selected by {printable(found.selector)}, {len(m.tagged)} "
        "matched to tasks")
    left = [(m.untagged, "untagged"), (m.other_suite, "tagged for another suite"),
            (m.unknown_task, "tagged with a task not in the suite"),
            (m.other_agent, "recorded under another agent"),
            (m.other_hash, "matched, tagged with another suite_hash (evaluated)")]
    for count, why in left:
        if count:
            say(f"  {count} {why}")
    if m.unknown_tasks:
        say(f"  unknown tasks: {printable(', '.join(repr(t) for t in m.unknown_tasks))}")


def _print_recorded(recorded: GateRecorded | None) -> None:
    if recorded is None:
        err("not recorded (--no-record)")
        return
    why = f" ({recorded.reason})" if recorded.reason else ""
    say(f"recorded gate.result {recorded.event_id}: {recorded.authority}{printable(why)}")


def _check_json(found: CheckResult, recorded: GateRecorded | None) -> dict[str, Any]:
    report = found.report
    return {
        "suite": report.suite.suite, "suite_version": report.suite.version,
        "suite_hash": report.suite.suite_hash, "decision": report.decision,
        "selector": str(found.selector), "selected": found.selected,
        "selection": found.matched.to_json(),
        "tasks": [t.model_dump(mode="json") for t in report.tasks],
        "attempts": [a.to_json() for a in report.attempts],
        "versions": [v.model_dump(mode="json") for v in report.versions],
        "recorded": None if recorded is None else {
            "event_id": str(recorded.event_id), "origin": recorded.origin,
            "authority": recorded.authority, "signed": recorded.signed,
            "reason": recorded.reason,
        },
    }


app.command("run")(run_command)  # `ledger gate run` (replay/cli/gate_run.py)
app.command("compare")(compare_command)  # `ledger gate compare` (replay/cli/gate_compare.py)
