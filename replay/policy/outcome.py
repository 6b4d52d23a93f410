"""Turn per-item findings into one verdict, so every rule applies "missing is never pass" alike.

A rule collects `fails` (definite violations) and `unknowns` (items it could not decide because
data was not captured). Any failure wins. Otherwise undecided items give the rule's `on_missing`
outcome. Otherwise, if the capture itself is incomplete (no run.ended, gaps, lost events), the
rule cannot claim a pass either: what was lost might have broken it.
"""

from __future__ import annotations

from replay.model import RunState
from replay.policy.verdict import Outcome, Verdict

__all__ = ["Finding", "Findings", "incomplete_reason"]

Finding = tuple[tuple[str, ...], str]


def incomplete_reason(state: RunState) -> str | None:
    """Why the capture cannot support a pass, or None when it looks whole."""
    if state.run.run_id is None:
        return "no events recorded for the run"
    if not state.run.ended and state.run.status == "suspended":
        return "the run is suspended, waiting to be resumed (what follows is not recorded yet)"
    if not state.run.ended:
        return "the run has no run.ended (still running, hung or capture lost)"
    if state.gaps:
        return f"{len(state.gaps)} gap(s) in the capture ({state.gaps[0].reason})"
    return None


class Findings:
    """Accumulates findings for one rule and produces its verdict."""

    __slots__ = ("fails", "on_missing", "rule_id", "unknowns")

    def __init__(self, rule_id: str, on_missing: Outcome) -> None:
        self.rule_id = rule_id
        self.on_missing = on_missing
        self.fails: list[Finding] = []
        self.unknowns: list[Finding] = []

    def fail(self, evidence: tuple[str | None, ...], message: str) -> None:
        self.fails.append((tuple(e for e in evidence if e), message))

    def unknown(self, evidence: tuple[str | None, ...], message: str) -> None:
        self.unknowns.append((tuple(e for e in evidence if e), message))

    def verdict(self, state: RunState, ok: str, *, need_complete: bool = True) -> Verdict:
        """The rule's verdict; `ok` explains a pass (and is reused when capture is partial)."""
        for items, outcome in ((self.fails, "fail"), (self.unknowns, self.on_missing)):
            if items:
                evidence: list[str] = []
                for ids, _ in items:
                    evidence.extend(i for i in ids if i not in evidence)
                more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
                return Verdict(
                    self.rule_id,
                    outcome,  # type: ignore[arg-type]
                    f"{items[0][1]}{more}",
                    tuple(evidence),
                )
        reason = incomplete_reason(state) if need_complete else None
        if reason is not None:
            return Verdict(
                self.rule_id,
                self.on_missing,
                f"{ok} so far, but {reason}",
                tuple(g.event_id for g in state.gaps if g.event_id),
            )
        return Verdict(self.rule_id, "pass", ok)
