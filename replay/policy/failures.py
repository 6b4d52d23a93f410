"""The failing and unknown verdicts of runs, with the event ids they cite: what `ledger check`
reports, shaped for screens that show one run (the TUI's Trace panel, timeline badges, Replay).

Why a helper over `check_in_force` rather than another evaluation: the board, the Trace panel,
the timeline and `ledger check` must never disagree about which rules a run breaks, so every one
of them asks the same service (the pack in force in the run's own log, the same trust root) and
this module only filters and indexes its answer. Nothing is saved (`save=False`): a reader's
view, safe for `ledger tui --readonly`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from replay.policy.verdict import Verdict

__all__ = ["RunFailures", "run_failures"]


@dataclass(frozen=True, slots=True)
class RunFailures:
    """One run's non-passing verdicts (fail first, then unknown), as `ledger check` found them."""

    run_id: uuid.UUID
    policy_hash: str | None  # the pack it was checked against (None: no pack known)
    verdicts: tuple[Verdict, ...]  # outcome fail or unknown only

    @property
    def fails(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.outcome == "fail")

    @property
    def unknowns(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.outcome == "unknown")

    def cited(self) -> dict[str, tuple[Verdict, ...]]:
        """Event id -> the non-passing verdicts citing it as evidence (in verdict order)."""
        out: dict[str, list[Verdict]] = {}
        for verdict in self.verdicts:
            for event_id in dict.fromkeys(verdict.evidence):
                out.setdefault(event_id, []).append(verdict)
        return {k: tuple(v) for k, v in out.items()}


def run_failures(
    conn: psycopg.Connection,
    settings: Settings,
    run_ids: Sequence[uuid.UUID],
    *,
    trust_root: TrustRoot | None,
    jobs: int = 1,
) -> dict[uuid.UUID, RunFailures]:
    """Non-passing verdicts per run, from `check_in_force` (what `ledger check` calls).

    A run the check skips (no events, a control-plane run) is absent from the answer.
    """
    from replay.policy.service import check_in_force

    if not run_ids:
        return {}
    report = check_in_force(
        conn, settings, list(run_ids), jobs=jobs, trust_root=trust_root, save=False
    )
    out: dict[uuid.UUID, RunFailures] = {}
    for entry in report.entries:
        bad = [v for v in entry.verdicts if v.outcome == "fail"]
        bad += [v for v in entry.verdicts if v.outcome == "unknown"]
        out[entry.run_id] = RunFailures(entry.run_id, entry.policy_hash, tuple(bad))
    return out
