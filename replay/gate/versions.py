"""`ledger versions AGENT`: every version an agent ran under, its last gate decision and SLOs,
and the last known-good one (the seed's "known-good versions restorable quickly").

Why from the log: the version tuples come from the agents' own run.started envelopes (agent
version, prompt, model, policy, tool contracts: one SQL query), the decisions from recorded
gate.result events, each `registry` result's signature re-checked against the registry in
force where it was recorded (ledger.gates.verify_gate): a result whose signature fails counts
as asserted. A version's last decision is the newest gate result (run, check or compare: a
compare's versions are its candidate's) that judged exactly that tuple (a result that mixed
versions, recorded before `gate check` refused that, judges none).

Known-good: the most recently seen version whose last gate decision is `pass` (signed by the
registry's service key, or with `require_signed=False` also asserted) AND whose SLOs are met
or declare no objectives (replay.slo.status.objectives_met: True, or None = none declared /
no data); `known_good_because` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import psycopg

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.event_gate import GateVersions
from ledger.gates import RecordedGate, gate_results, verify_gate
from ledger.store.gates import VersionRow, version_rows
from replay.slo.status import objectives_met

__all__ = ["AgentVersion", "VersionsReport", "agent_versions"]


@dataclass(frozen=True, slots=True)
class AgentVersion:
    """One version tuple, what the gate last said of it and whether its SLOs are met."""

    versions: GateVersions
    runs: int
    first_seen: datetime
    last_seen: datetime
    gate: RecordedGate | None  # the newest gate result judging exactly this tuple
    authority: str | None  # registry (signature checked) | asserted | None (no result)
    authority_note: str
    slo_met: bool | None
    known_good: bool = False


@dataclass(frozen=True, slots=True)
class VersionsReport:
    """All versions of an agent, newest first, and the reason the known-good one is."""

    agent: str
    versions: tuple[AgentVersion, ...]
    known_good_because: str | None

    @property
    def known_good(self) -> AgentVersion | None:
        return next((v for v in self.versions if v.known_good), None)


def _tuple(row: VersionRow, agent: str) -> GateVersions:
    return GateVersions(agent=agent, agent_version=row.agent_version,
                        prompt_version=row.prompt_version, model=row.model,
                        policy_hash=row.policy_hash,
                        tool_contract_digest=row.tool_contract_digest)  # fmt: skip


def _authority(
    conn: psycopg.Connection, gate: RecordedGate | None, root: TrustRoot | None
) -> tuple[str | None, str]:
    """(registry | asserted | None, why) of a version's last gate result."""
    if gate is None:
        return None, "no gate result"
    check = verify_gate(conn, gate, root)
    if check.ok:
        return "registry", check.reason
    if gate.data.authority == "registry":
        return "asserted", f"registry signature not accepted: {check.reason}"
    return "asserted", check.reason


def _good(version: AgentVersion, require_signed: bool) -> str | None:
    """Why `version` is known-good, or None."""
    if version.gate is None or version.gate.data.decision != "pass":
        return None
    if require_signed and version.authority != "registry":
        return None
    how = "registry-signed" if version.authority == "registry" else "asserted"
    if version.slo_met is False:
        return None
    slo = "SLOs met" if version.slo_met else "no SLO objectives declared (or no data)"
    return f"gate passed ({how}) and {slo}"


def agent_versions(
    conn: psycopg.Connection,
    settings: Settings,
    agent: str,
    *,
    root: TrustRoot | None,
    require_signed: bool = False,
) -> VersionsReport:
    """The versions report of `agent` (module docstring)."""
    gates = gate_results(conn, settings, agent=agent)
    found: list[AgentVersion] = []
    for row in version_rows(conn, agent):
        wanted = _tuple(row, agent)
        gate = next((g for g in gates if g.data.versions == (wanted,)), None)  # one version
        authority, note = _authority(conn, gate, root)
        met = objectives_met(conn, settings, agent=agent, versions=wanted)
        found.append(AgentVersion(wanted, row.runs, row.first_seen, row.last_seen, gate,
                                  authority, note, met))  # fmt: skip
    because = None
    for i, version in enumerate(found):
        because = _good(version, require_signed)
        if because is not None:
            found[i] = replace(version, known_good=True)
            break
    return VersionsReport(agent, tuple(found), because)

