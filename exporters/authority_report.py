"""The authority section of a bundle verification: who approved and who started each run.

Plain data in a module of its own, so the report (`exporters.bundle_report`) can hold it while
the stages that fill it (`exporters.bundle_authority`, `exporters.bundle_identity`) import the
report without a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.authority.trust import NO_TRUST_ROOT

__all__ = [
    "ApprovalFinding",
    "AuthorityReport",
    "IdentityFinding",
    "IdentityReport",
    "RegistryRefusal",
    "RegistryVersion",
]

_MAX_FINDINGS = 100


@dataclass
class IdentityFinding:
    """One identity token that did not verify: where, which slot, status, why (one line)."""

    seq: int
    role: str
    status: str  # asserted | not_disclosed | erased
    reason: str

    def line(self) -> str:
        return f"seq {self.seq} identity {self.role}: {self.status}: {self.reason}"


@dataclass
class IdentityReport:
    """The period's recorded identity tokens: how many, and what became of each."""

    tokens: int = 0
    verified: int = 0
    asserted: int = 0
    not_disclosed: int = 0
    erased: int = 0
    findings: list[IdentityFinding] = field(default_factory=list)

    def finding(self, seq: int, role: str, status: str, reason: str) -> None:
        setattr(self, status, getattr(self, status) + 1)
        if len(self.findings) < _MAX_FINDINGS:
            self.findings.append(IdentityFinding(seq, role, status, reason))

    @property
    def clean(self) -> bool:
        """Nothing asserted and nothing withheld (an erased token is the law working)."""
        return self.asserted == 0 and self.not_disclosed == 0

    def summary(self) -> str:
        return (
            f"identity tokens: {self.tokens}: {self.verified} verified, {self.asserted} "
            f"asserted, {self.not_disclosed} not disclosed, {self.erased} erased"
        )


@dataclass
class RegistryVersion:
    """A registry version the trust root accepted, and the seq it came into force after."""

    seq: int
    name: str
    version: int
    digest: str


@dataclass
class RegistryRefusal:
    """A published registry that does not stand, and why (one line)."""

    seq: int
    reason: str


@dataclass
class ApprovalFinding:
    """One approval that is not verified: its seq, id, status (unsigned/failed/unknown), why."""

    seq: int
    approval_id: str
    status: str
    reason: str

    def line(self) -> str:
        return f"seq {self.seq} approval {self.approval_id}: {self.status}: {self.reason}"


@dataclass
class GateFinding:
    """A gate result claiming `registry` authority whose signature does not check."""

    seq: int
    event_id: str
    reason: str

    def line(self) -> str:
        return f"seq {self.seq} gate result {self.event_id}: failed: {self.reason}"


@dataclass
class AuthorityReport:
    """The authority section: OK only with a trust root and every approval verified."""

    status: str = "UNTRUSTED"  # OK | FINDINGS | UNTRUSTED | NOT_JUDGED
    reason: str = NO_TRUST_ROOT
    trust_root: str | None = None
    approvals: int = 0
    verified: int = 0
    unsigned: int = 0
    failed: int = 0
    unknown: int = 0
    registries_published: int = 0
    registries_accepted: list[RegistryVersion] = field(default_factory=list)
    registries_refused: list[RegistryRefusal] = field(default_factory=list)
    findings: list[ApprovalFinding] = field(default_factory=list)
    #: the period's recorded identity tokens, as disclosed in identity/tokens.jsonl
    identities: IdentityReport = field(default_factory=IdentityReport)
    #: the period's gate results (CC8.1): registry-signed ones re-checked, asserted ones counted
    gates: int = 0
    gates_verified: int = 0
    gates_asserted: int = 0
    gate_findings: list[GateFinding] = field(default_factory=list)
    #: approvals in runs a gate result lists as evidence: test traffic, not judged as approvals
    gate_approvals: int = 0

    def finding(self, seq: int, approval_id: str, status: str, reason: str) -> None:
        setattr(self, status, getattr(self, status) + 1)
        if len(self.findings) < _MAX_FINDINGS:
            self.findings.append(ApprovalFinding(seq, approval_id, status, reason))

    def summary(self) -> str:
        """One line: the status, then the counts (or why nothing was judged)."""
        tokens = self.identities.tokens
        if self.status == "UNTRUSTED":
            judged = f", {tokens} identity token(s)" if tokens else ""
            return f"UNTRUSTED: {self.approvals} approval(s){judged} not judged: {self.reason}"
        return (
            f"{self.status}: {self.approvals} approval(s): {self.verified} verified, "
            f"{self.unsigned} unsigned, {self.failed} failed, {self.unknown} unknown; "
            f"registry versions: {len(self.registries_accepted)} accepted, "
            f"{len(self.registries_refused)} refused"
            + (f"; {self.identities.summary()}" if tokens else "")
            + (f"; gate results: {self.gates_verified} registry-signed verified, "
               f"{self.gates_asserted} asserted, {len(self.gate_findings)} failed"
               if self.gates else "")
            + (f" ({self.gate_approvals} approval(s) in gate runs: evidence, not judged)"
               if self.gate_approvals else "")
        )
