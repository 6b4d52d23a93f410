"""`ledger compare`: a candidate version's live traffic against the baseline's, per SLI.

Why here and not only in CI: a canary rolls out in slices; the ledger already holds every run
of both versions, so the comparison reads them (replay/slo/compare.py: Fisher exact on the
ratio SLIs, Mann-Whitney on run durations, "not enough runs" below --min-runs). Exit 0 on a
pass, 1 on a regression or not enough runs (never a pass). With --stop-candidate a regression
also records a stop of the candidate's scope (agent@version, prompt or model) as the ledger
service's act, like a breaker: signed with --sign-with (else the service key), so agents of
that version halt before their next call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import (
    JsonOption,
    RunsSince,
    RunsUntil,
    TrustRootOption,
    connection,
    emit_json,
    say,
    settings_from,
    table,
    when,
)
from ledger.errors import InputError
from ledger.terminal import printable

if TYPE_CHECKING:
    from replay.gate.selector import Selector
    from replay.slo.compare import Comparison

__all__ = ["app", "stop_target"]

app = typer.Typer(add_completion=False)

SideOption = ("a selector: prompt=NAME/V, model=M, agent=NAME@V, policy=HEX, tenant=T, "
              "since=TIME, until=TIME (comma-separated; label/suite are gate keys: refused)")


@app.command("compare")
def compare(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    baseline: Annotated[str, typer.Option("--baseline", metavar="SELECTOR",
                                          help=f"The version in production: {SideOption}.")],
    candidate: Annotated[str, typer.Option("--candidate", metavar="SELECTOR",
                                           help=f"The version on trial: {SideOption}.")],
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    since: RunsSince = None,
    until: RunsUntil = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level (0..1).")] = 0.05,
    min_runs: Annotated[int, typer.Option(
        "--min-runs", help="Fewer ended runs on a side: not enough runs (never a pass).")] = 20,
    stop_candidate: Annotated[bool, typer.Option(
        "--stop-candidate", help="On a regression, stop the candidate's scope (service act).")
    ] = False,
    sign_with: Annotated[str | None, typer.Option(
        "--sign-with", metavar="KEY",
        help="Key file or pkcs11: URI signing the stop (default: the service key).")] = None,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Compare a candidate version's runs with the baseline's per SLI (Fisher exact on the
    ratios, Mann-Whitney on run durations); exit 1 on a regression or not enough runs."""
    from replay.gate.selector import parse_selector
    from replay.slo.compare import compare_versions

    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1 (got {alpha})")
    if min_runs < 1:
        raise InputError(f"--min-runs must be at least 1 (got {min_runs})")
    base = parse_selector(baseline).live("`ledger compare`")
    cand = parse_selector(candidate).live("`ledger compare`")
    target = stop_target(cand) if stop_candidate else None
    settings = settings_from(ctx)
    conn = connection(ctx, migrate=False)
    result = compare_versions(conn, settings, base, cand, agent=agent,
                              since=when(since, "--since"), until=when(until, "--until"),
                              alpha=alpha, min_runs=min_runs)  # fmt: skip
    stopped = None
    if (target is not None and result.decision == "regression"
            and min(result.baseline_runs, result.candidate_runs) >= min_runs):
        stopped = _stop(ctx, conn, target, cand, result, sign_with=sign_with,
                        root_file=trust_root_file)
    if json_out:
        emit_json({**result.to_json(), "stopped": stopped})
    else:
        _print(result, stopped)
    if result.decision != "pass":
        raise typer.Exit(1)


def stop_target(cand: Selector) -> str:
    """The stop target of the candidate's scope: agent@version, else prompt, else model."""
    if cand.agent and cand.agent_version:
        return f"agent:{cand.agent}@{cand.agent_version}"
    if cand.prompt:
        return f"prompt:{cand.prompt}"
    if cand.model:
        return f"model:{cand.model}"
    raise InputError("--stop-candidate needs agent=NAME@VERSION, prompt=NAME/V or model=M "
                     "in --candidate")


def _stop(ctx: typer.Context, conn: Any, target: str, cand: Selector, result: Comparison, *,
          sign_with: str | None, root_file: str | None) -> dict[str, Any]:
    """Record the stop through the one stop service, as the ledger service's own act."""
    from ledger.authority.trust import trust_root
    from ledger.keys import load_key
    from ledger.service_key import SERVICE_NAME, load_service_signer
    from ledger.stops import request_stop
    from ledger.stopsread import active_stops

    settings = settings_from(ctx)
    tenant = cand.tenant or settings.tenant
    if any(s.target == target for s in active_stops(conn, settings, [settings.origin(tenant)])):
        return {"target": target, "event_id": None, "authority": None, "signed": False,
                "already_stopped": True}
    signer = load_key(sign_with, None) if sign_with else load_service_signer(settings)
    worse = ", ".join(s.name for s in result.slis if s.verdict == "regression")
    reason = f"ledger compare: candidate regressed on {worse} (alpha {result.alpha:g})"
    done = request_stop(conn, settings, target=target, reason=reason,
                        requested_by=signer.name if signer else SERVICE_NAME, signer=signer,
                        root=trust_root(root_file), tenant=cand.tenant, via="compare",
                        service=True)  # fmt: skip
    return {"target": target, "event_id": str(done.event_id), "authority": done.authority,
            "signed": done.signed, "already_stopped": False}


def _print(result: Comparison, stopped: dict[str, Any] | None) -> None:
    from replay.cli.slo_cmd import fmt_value

    def side(s: Any) -> str:
        of = f" ({s.numerator:g}/{s.denominator})" if s.unit == "ratio" else ""
        return fmt_value(s) + of

    rows = [[c.name, side(c.baseline), side(c.candidate), c.verdict.replace("_", " "),
             "-" if c.p_value is None else f"{c.p_value:.3g}"] for c in result.slis]
    say(table(rows, ["sli", "baseline", "candidate", "verdict", "p"]))
    say(f"baseline {result.baseline_runs} ended runs, candidate {result.candidate_runs}; "
        f"alpha {result.alpha:g}, min runs {result.min_runs}")
    for name, excluded, tagged in zip(("baseline", "candidate"), result.gate_runs_excluded,
                                      result.gate_tagged_unjudged, strict=True):
        if excluded:
            say(f"{name}: {excluded} gate runs excluded (listed in a recorded gate result)")
        if tagged:
            say(f"{name}: {tagged} runs tagged as gate runs but judged by no gate result "
                "(counted)")
    say({"regression": "REGRESSION: the candidate is worse",
         "not_enough_runs": "not enough runs: no decision (not a pass)",
         "pass": "pass: no SLI is significantly worse"}[result.decision])
    if stopped is not None and stopped["already_stopped"]:
        say(f"{printable(stopped['target'])} is already stopped: no second stop recorded")
    elif stopped is not None:
        say(f"stopped {printable(stopped['target'])} ({stopped['authority']}"
            f"{', signed' if stopped['signed'] else ''})")
