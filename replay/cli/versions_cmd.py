"""`ledger versions AGENT`: the versions an agent ran under, their last gate decision (and its
authority), whether their SLOs are met, and the last known-good version (replay.gate.versions).

Exit codes: 0 (also when no version is known-good: the line says so), 2 bad input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import (
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    say,
    settings_from,
    table,
)
from ledger.terminal import printable

if TYPE_CHECKING:
    from replay.gate.versions import AgentVersion, VersionsReport

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _short(value: str | None, size: int = 12) -> str:
    return "-" if value is None else value[:size]


def _slo(met: bool | None) -> str:
    return {True: "met", False: "not met", None: "none declared"}[met]


def _gate(v: AgentVersion) -> str:
    if v.gate is None:
        return "-"
    return f"{v.gate.data.decision.replace('_', ' ')} ({v.authority})"


def _row(v: AgentVersion) -> list[str]:
    t = v.versions
    return ["*" if v.known_good else "", _short(t.agent_version, 20), _short(t.prompt_version, 24),
            _short(t.model, 24), _short(t.policy_hash), _short(t.tool_contract_digest),
            str(v.runs), v.last_seen.strftime("%Y-%m-%d %H:%M"), _gate(v),
            _slo(v.slo_met)]  # fmt: skip


def _json(report: VersionsReport) -> dict[str, Any]:
    def one(v: AgentVersion) -> dict[str, Any]:
        gate = None if v.gate is None else {
            "event_id": str(v.gate.event_id), "kind": v.gate.data.kind,
            "suite": v.gate.data.suite, "label": v.gate.data.label,
            "decision": v.gate.data.decision, "recorded_at": v.gate.recorded_at.isoformat(),
            "authority": v.authority, "authority_note": v.authority_note}  # fmt: skip
        return {"versions": v.versions.model_dump(mode="json"), "runs": v.runs,
                "first_seen": v.first_seen.isoformat(), "last_seen": v.last_seen.isoformat(),
                "gate": gate, "slo_met": v.slo_met, "known_good": v.known_good}  # fmt: skip

    return {"agent": report.agent, "versions": [one(v) for v in report.versions],
            "known_good_because": report.known_good_because}  # fmt: skip


@app.command("versions")
def versions(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(metavar="AGENT", help="The agent's name.")],
    require_signed: Annotated[
        bool,
        typer.Option(
            "--require-signed", help="Known-good only when the gate result is registry-signed."
        ),
    ] = False,
    trust_root: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Versions an agent ran under, their gate decisions and SLOs, and the last known-good."""
    from ledger.authority.trust import trust_root as load_root
    from replay.gate.versions import agent_versions

    settings = settings_from(ctx)
    report = agent_versions(connection(ctx, migrate=False), settings, agent,
                            root=load_root(trust_root), require_signed=require_signed)  # fmt: skip
    if json_out:
        emit_json(_json(report))
    elif not report.versions:
        say(f"nothing matched: no runs of agent {printable(agent)} in the ledger")
    if not report.versions:  # a typo'd agent in CI must not look fine
        raise typer.Exit(1)
    if json_out:
        return
    headers = ["", "AGENT VERSION", "PROMPT", "MODEL", "POLICY", "TOOLS", "RUNS", "LAST SEEN",
               "GATE", "SLO"]  # fmt: skip
    say(table([_row(v) for v in report.versions], headers))
    good = report.known_good
    if good is None:
        how = " registry-signed" if require_signed else ""
        say(f"no known-good version of {printable(agent)}: none passed the gate{how} with its "
            "SLOs met")
    else:
        say(f"known-good (*): {_describe(good.versions)}: "
            f"{printable(report.known_good_because)}")


def _describe(v: Any) -> str:
    parts = [f"{k}={printable(getattr(v, k))}" for k in ("agent_version", "prompt_version", "model",
             "policy_hash", "tool_contract_digest") if getattr(v, k) is not None]  # fmt: skip
    return ", ".join(parts) or "(no versions recorded)"
