"""The verdict of `ledger verify-bundle`: valid or not, and each problem with its file, row and seq.

Its own module because the verifier's stages (`exporters.bundle_verify` and the per-row checks
in `exporters.bundle_events`) all add to one report, and neither should import the other for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from exporters.authority_report import AuthorityReport

__all__ = ["AuthorityReport", "BundleReport", "Problem"]


@dataclass
class Problem:
    """One failure: where (file, row, seq) and why."""

    file: str
    reason: str
    row: int | None = None
    seq: int | None = None

    def line(self) -> str:
        where = self.file + (f" row {self.row}" if self.row is not None else "")
        where += f" (seq {self.seq})" if self.seq is not None else ""
        return f"{where}: {self.reason}"


@dataclass
class BundleReport:
    """Verdict of `verify_bundle`; `valid` is False when any problem was found."""

    valid: bool = True
    events: int = 0
    leaves: int = 0
    problems: list[Problem] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    populations: dict[str, int] = field(default_factory=dict)
    total_problems: int = 0
    #: approvals and registries judged with the auditor's trust root: findings, never problems
    authority: AuthorityReport = field(default_factory=AuthorityReport)
    #: True only when the keys came from the auditor (`--trust`), never from the bundle itself
    trusted: bool = False
    #: keys the bundle claims (keys/trust.json), fingerprints to compare out of band
    claimed_keys: list[str] = field(default_factory=list)
    #: the end checkpoint's witness cosignature: "no witness", "cosigned by ...", ...
    witness: str = ""

    @property
    def verdict(self) -> str:
        """INVALID, UNTRUSTED (consistent, but only under keys the bundle supplies) or OK."""
        if not self.valid:
            return "INVALID"
        return "OK" if self.trusted else "UNTRUSTED"

    def add(self, file: str, reason: str, row: int | None = None, seq: int | None = None) -> None:
        self.valid = False
        self.total_problems += 1
        if len(self.problems) < 100:
            self.problems.append(Problem(file, reason, row, seq))

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, **asdict(self)}
