"""Offline re-verification of authority: the period's approvals, judged with the auditor's keys.

Why: an auditor who trusts nothing we say brings the administrator public key(s) (`--trust-root`)
and judges from the bundle alone which registry versions stand and whether each `approval.decided`
was signed by the approver key of the registry in force at its seq. The claim is rebuilt from the
*record* (the bundle's origin, the run the call sits in, the call's tool and the hash recomputed
from its recorded args, else from the matching `approval.requested`), never from the event's own
fields, with the rule replay uses (`ledger.authority.judge`).

Why findings, not problems: an unsigned or forged approval is a fact about what the agent host
did, recorded faithfully; the bundle is still intact. So these never make the bundle INVALID;
they are the `authority` section of the report. A registry event that does not match the signed
tree's leaf at its seq is different: the exporter would be handing over something the log does
not hold, so that is a bundle problem. Pure: no database code (a test asserts it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from exporters.authority_report import (
    AuthorityReport,
    GateFinding,
    RegistryRefusal,
    RegistryVersion,
)
from exporters.bundle_identity import check_identities, event_bodies
from exporters.population_gate import gate_evidence_in
from ledger.authority.history import PublishedRegistry, RegistryHistory
from ledger.authority.judge import DecisionOnRecord, judge_decision, recorded_hash
from ledger.authority.trust import TrustRoot
from ledger.event_gate import GateResultData
from ledger.gate_claim import check_gate
from ledger.merkle import leaf_hash

if TYPE_CHECKING:
    from exporters.bundle_report import BundleReport

__all__ = [
    "REGISTRIES",
    "AuthorityReport",
    "check_authority",
]

REGISTRIES = "config/registries.jsonl"
_EVENTS = "ledger/events.parquet"
_TYPES = ["approval.decided", "approval.requested", "tool.call.started", "registry.published",
          "gate.result"]
_PARTIAL = "signature verified over the approved args, but the call's args are not fully " \
    "recorded (truncated or held privately): what ran cannot be tied to it"
_NO_RECORD = "neither the call nor its approval.requested is in the bundle: the claim cannot " \
    "be rebuilt from the record"


@dataclass
class _Period:
    """The period's events the judgement needs (approvals are rare; calls only as needed)."""

    decided: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    requested: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    registry_seqs: list[int] = field(default_factory=list)
    gates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    gate_approvals: int = 0  # approvals in runs a gate.result lists as its evidence


def _period(root: Path) -> _Period:
    """One pass over the period for approvals and registries, a second for the calls needed."""
    found = _Period()
    for seq, event in event_bodies(root, [t for t in _TYPES if t != "tool.call.started"]):
        data = event["data"]
        if event.get("type") == "approval.decided":
            found.decided.append((seq, event))
        elif event.get("type") == "approval.requested":
            key = (str(event.get("run_id")), str(data.get("approval_id")))
            found.requested.setdefault(key, event)
        elif event.get("type") == "gate.result":
            found.gates.append((seq, event))
        else:
            found.registry_seqs.append(seq)
    gate_runs = {r for _, e in found.gates for r in gate_evidence_in(e.get("data"))}
    if gate_runs:  # a gate's attempts are test traffic: CC8.1 evidence, not approvals to judge
        kept = [(seq, e) for seq, e in found.decided if str(e.get("run_id")) not in gate_runs]
        found.gate_approvals = len(found.decided) - len(kept)
        found.decided = kept
    wanted = {str(e["data"].get("tool_call_id")) for _, e in found.decided}
    if wanted:
        for _, event in event_bodies(root, ["tool.call.started"]):
            call = str(event["data"].get("tool_call_id"))
            if call in wanted:
                found.calls.setdefault((str(event.get("run_id")), call), event)
    return found


def _registries(
    root: Path, leaves: bytearray, end_size: int, report: BundleReport
) -> list[PublishedRegistry]:
    """The registry events the bundle carries, each matched to the signed tree's leaf."""
    published: list[PublishedRegistry] = []
    try:
        lines = (root / REGISTRIES).read_bytes().splitlines()
    except OSError:
        report.warnings.append(f"{REGISTRIES} missing: no registry can be judged in force")
        return published
    for row, line in enumerate(lines, 1):
        try:
            item = orjson.loads(line)
            seq, body = int(item["seq"]), str(item["body"]).encode("utf-8")
            event = orjson.loads(body)
            data = event["data"]
            recorded = {"document": data["document"], "signatures": data.get("signatures", [])}
            event_id = uuid.UUID(str(event["event_id"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            report.add(REGISTRIES, "not a registry.published event", row=row)
            continue
        if event.get("type") != "registry.published" or not 0 <= seq < end_size:
            report.add(REGISTRIES, "not a registry.published event of this log", row=row, seq=seq)
        elif leaves[32 * seq : 32 * seq + 32] != leaf_hash(body):
            report.add(
                REGISTRIES, "differs from the signed tree's leaf at this seq", row=row, seq=seq
            )
        else:
            published.append(PublishedRegistry(seq, event_id, recorded))
    return published


def _call_of(event: dict[str, Any], found: _Period) -> tuple[str, str, Any] | None:
    """(run id, tool, args) of the call the decision approves, from the record:
    the call in the decision's own run, else in the run it names, else the request."""
    data = event["data"]
    call_id = str(data.get("tool_call_id"))
    runs = (str(event.get("run_id")), str(data.get("call_run_id")))
    for run in runs:
        call = found.calls.get((run, call_id))
        if call is not None:
            return run, str(call["data"].get("tool")), call["data"].get("args")
    approval = str(data.get("approval_id"))
    request = next(
        (r for r in (found.requested.get((run, approval)) for run in runs) if r is not None), None
    )
    if request is None or str(request["data"].get("tool_call_id")) != call_id:
        return None
    args = request["data"].get("args")
    if data.get("decision") == "edited":
        args = data.get("edited_args")
    return str(request.get("run_id")), str(request["data"].get("tool")), args


def _text(value: Any) -> str | None:
    """A string field as recorded, or None (a tampered body must not crash the verifier)."""
    return value if isinstance(value, str) else None


def _on_record(
    seq: int, event: dict[str, Any], origin: str, found: _Period
) -> tuple[DecisionOnRecord, bool] | None:
    """The decision bound to its call from the record, and whether the args were all there."""
    data = event["data"]
    bound = _call_of(event, found)
    if bound is None:
        return None
    run, tool, args = bound
    edited = data.get("decision") == "edited"
    approved = data.get("edited_args_hash") if edited else data.get("args_hash")
    recorded = recorded_hash(args)
    try:
        run_id = uuid.UUID(run)
    except ValueError:
        return None
    approver = data.get("approver")
    decision = DecisionOnRecord(
        seq=seq, origin=origin, run_id=run_id, tool_call_id=str(data.get("tool_call_id")),
        tool=tool, args_hash=recorded or str(approved or ""),
        decision=str(data.get("decision") or ""), expires_at=_text(data.get("expires_at")),
        approver=str(approver.get("id") or "") if isinstance(approver, dict) else "",
        registry_hash=_text(data.get("registry_hash")),
        signing_key=_text(data.get("signing_key")), signature=_text(data.get("signature")),
    )
    return decision, recorded is not None


def _judge(history: RegistryHistory, origin: str, found: _Period, out: AuthorityReport) -> None:
    """Each decision of the period: verified, unsigned, failed (with why) or unknown."""
    for seq, event in found.decided:
        approval_id = str(event["data"].get("approval_id"))
        bound = _on_record(seq, event, origin, found)
        if bound is None:
            out.finding(seq, approval_id, "unknown", _NO_RECORD)
            continue
        decision, complete = bound
        judged = judge_decision(history, decision)
        if judged.in_force.registry is None:
            out.finding(seq, approval_id, "unknown", str(judged.problem))
        elif decision.signature is None:
            out.finding(seq, approval_id, "unsigned", "approval is not signed")
        elif judged.problem is not None:
            out.finding(seq, approval_id, "failed", judged.problem)
        elif not complete:
            out.finding(seq, approval_id, "unknown", _PARTIAL)
        else:
            out.verified += 1


def _judge_gates(history: RegistryHistory, origin: str, found: _Period, out: AuthorityReport
                 ) -> None:  # fmt: skip
    """Each gate result (CC8.1): a `registry` one must verify against the service_key of the
    registry in force at its seq (ledger.gate_claim, the rule `ledger versions` applies)."""
    for seq, event in found.gates:
        try:
            data = GateResultData.model_validate(event.get("data"))
        except ValueError:
            out.gate_findings.append(GateFinding(seq, str(event.get("event_id")),
                                                 "not a gate result"))  # fmt: skip
            continue
        check = check_gate(history, seq, origin, data)
        if check.ok:
            out.gates_verified += 1
        elif check.authority == "asserted":
            out.gates_asserted += 1
        else:
            out.gate_findings.append(GateFinding(seq, str(event.get("event_id")), check.reason))


def check_authority(  # noqa: PLR0917
    root: Path,
    leaves: bytearray,
    end_size: int,
    origin: str,
    trust: TrustRoot | None,
    report: BundleReport,
    identity: Any = None,
) -> AuthorityReport:
    """Judge the bundle's registries, the period's approvals and its disclosed identity tokens
    (`identity`: the manifest's `identity_tokens` section); integrity problems go to `report`,
    findings to the returned section (also set as `report.authority`)."""
    out = AuthorityReport(trust_root=None if trust is None else trust.source)
    report.authority = out
    published = _registries(root, leaves, end_size, report)
    out.registries_published = len(published)
    try:
        found = _period(root)
    except (OSError, ValueError) as exc:
        out.reason = f"{_EVENTS} unreadable: {exc}"
        if trust is not None:
            out.status = "NOT_JUDGED"
        return out
    out.approvals, out.gates = len(found.decided), len(found.gates)
    out.gate_approvals = found.gate_approvals
    carried = {p.seq for p in published}
    for seq in found.registry_seqs:
        if seq not in carried:
            report.add(REGISTRIES, "a registry.published event of the period is missing", seq=seq)
    if trust is None:
        out.identities = check_identities(root, identity, None, report)
        return out
    history = RegistryHistory.build(trust, published, origin)
    out.registries_accepted = [
        RegistryVersion(seq, reg.registry.name, reg.version, digest)
        for seq, digest, reg in history.accepted
    ]
    out.registries_refused = [RegistryRefusal(r.seq, r.reason) for r in history.refused]
    _judge(history, origin, found, out)
    _judge_gates(history, origin, found, out)
    out.identities = check_identities(root, identity, history, report)
    clean = out.verified == out.approvals and not out.registries_refused
    clean = clean and not out.gate_findings
    clean = clean and out.identities.clean
    out.status = "OK" if clean else "FINDINGS"
    out.reason = f"judged with the trust root {trust.source}"
    return out
