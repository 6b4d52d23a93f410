"""The result of `ledger verify`: what was checked, and the first failure with its seq and why.

Its own module because both passes fill it in (`ledger.verify` drives, `ledger.verify_rows`
names the failure), and neither should import the other for a type.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

__all__ = ["DetachedLog", "HeldRange", "VerifyReport", "dumps"]


@dataclass(frozen=True, slots=True)
class HeldRange:
    """A legal hold in force (ledger.holds) and the seqs [seq_from, seq_to] it covers now
    (None: nothing recorded yet under its scope)."""

    origin: str
    hold_id: str
    scope: str
    seq: int  # where the hold.added record sits
    seq_from: int | None
    seq_to: int | None


@dataclass(frozen=True, slots=True)
class DetachedLog:
    """A tenant `ledger tenants detach` took out of the log tables (ledger_partitions): its
    log is no longer verified here, so the report says it left and at which final size/root
    (None for a tenant detached before the catalog kept them)."""

    origin: str
    tenant: str
    detached_at: str
    size: int | None
    root: str | None


@dataclass
class VerifyReport:
    """Result of a verification; `first_bad_seq` and `reason` are set when invalid."""

    status: str = "ok"
    events_verified: int = 0
    tree_size: int = 0
    checkpoints_verified: int = 0
    first_bad_seq: int | None = None
    reason: str | None = None
    origin: str | None = None
    origins: dict[str, int] = field(default_factory=dict)
    pinned: dict[str, Any] | None = None
    verdict: str | None = None
    witnessed: dict[str, int] = field(default_factory=dict)
    redacted: list[int] = field(default_factory=list)
    payloads_verified: int = 0
    unstamped: dict[str, int] = field(default_factory=dict)  # events from before stamping began
    incremental: dict[str, list[int]] = field(default_factory=dict)  # origin: [from, to] sizes
    # per origin, the prefix [lo, hi) that `ledger archive` moved out (archive.recorded)
    archived: dict[str, list[int]] = field(default_factory=dict)
    held: list[HeldRange] = field(default_factory=list)  # the legal holds in force
    detached: list[DetachedLog] = field(default_factory=list)  # tenants detached (catalog)

    def fail(
        self, origin: str, seq: int | None, reason: str, verdict: str | None = None
    ) -> VerifyReport:
        """Mark invalid (the first failure wins); `verdict` is a stable machine-readable code."""
        if self.status == "ok":
            self.status, self.origin, self.first_bad_seq, self.reason = (
                "invalid",
                origin,
                seq,
                reason,
            )
            self.verdict = verdict
        return self

    def as_dict(self) -> dict[str, Any]:
        """JSON form for `--json`."""
        return asdict(self)


def dumps(report: VerifyReport) -> str:
    """Report as JSON text."""
    return orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode()
