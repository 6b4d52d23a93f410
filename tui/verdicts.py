"""The board's verdict column: stored verdicts judged for freshness, then recomputed.

Why: `ledger_verdicts` is derived data anyone with the table owner's rights can delete or forge,
so the board never shows it as the truth. At first paint each run's stored set is judged against
what the log says now (the run's last seq, the policy its run.started recorded, this evaluator
version): a run with no set is `verdicts missing`, one computed before the run's last event or
under another policy or evaluator is `stale`, and a set that looks current is shown as derived,
with its age. A worker then recomputes the shown runs from the hashed log (`check_in_force`, on
its own connection so the board's reads never wait for it) and the rows update; only a
recomputed verdict is shown without a marker.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.store.board import RunMark, VerdictSet
from replay.policy import EVALUATOR_VERSION

__all__ = ["VerdictState", "judge", "recheck"]

RECHECK = "⟳"  # marks a verdict the worker is recomputing


@dataclass(frozen=True, slots=True)
class VerdictState:
    """What the verdict cell says about one run, and whether it came from a recomputation."""

    state: str  # rechecked | stored | missing | stale
    fails: int = 0
    unknown: int = 0
    why: str = ""  # for stale: what no longer matches
    checked_at: datetime | None = None
    last_seq: int = -1  # the run's last seq the state is about

    @property
    def trusted(self) -> bool:
        """Recomputed from the log in this session (not read from the derived table)."""
        return self.state == "rechecked"

    def counts(self) -> str:
        if self.fails:
            return f"{self.fails} fail"
        return f"{self.unknown} unknown" if self.unknown else "pass"

    def cell(self, now: datetime | None = None) -> str:
        """The board's verdict cell (plain text: every part is ours, never a writer's)."""
        if self.state == "rechecked":
            return self.counts()
        if self.state == "missing":
            return f"verdicts missing {RECHECK}"
        if self.state == "stale":
            return f"stale: {self.why} {RECHECK}"
        return f"{self.counts()} · stored {_age(self.checked_at, now)} {RECHECK}"

    def styled(self, now: datetime | None = None) -> Text:
        """The cell coloured: failing red, unknown or not yet known yellow, pass green."""
        if self.fails:
            style = "bold red"
        elif self.unknown or self.state in ("missing", "stale"):
            style = "yellow"
        else:
            style = "green"
        return Text(self.cell(now), style=style, end="")


def _age(when: datetime | None, now: datetime | None) -> str:
    if when is None:
        return "?"
    secs = max(0, int(((now or datetime.now(UTC)) - when).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{secs}s ago"


def judge(mark: RunMark | None, sets: Sequence[VerdictSet]) -> VerdictState:
    """The first-paint state of one run from its stored verdict sets (never `rechecked`)."""
    last = mark.last_seq if mark else -1
    if not sets:
        return VerdictState("missing", last_seq=last)
    policy = mark.policy_hash if mark else None
    ours = [s for s in sets if s.evaluator_version == EVALUATOR_VERSION]
    current = [s for s in ours if policy is not None and s.policy_hash == policy]
    if not ours:
        return VerdictState("stale", why="evaluator", last_seq=last)
    if not current:
        return VerdictState("stale", why="policy", last_seq=last)
    found = current[0]
    if found.through_seq is None or found.through_seq < last:
        return VerdictState("stale", found.fails, found.unknown, "events", last_seq=last)
    return VerdictState("stored", found.fails, found.unknown, "", found.checked_at, last)


def recheck(
    settings: Settings,
    runs: Mapping[uuid.UUID, int],
    root: TrustRoot | None,
    *,
    save: bool,
) -> dict[uuid.UUID, VerdictState]:
    """Recompute the verdicts of `runs` (run id -> its last seq when asked) from the log.

    Its own connection, so the board's shared one is never held for a whole check. `save`
    replaces the stored rows (restoring deleted ones); a read-only session passes False. A run
    the check skips (no events, control-plane runs) is absent from the answer.
    """
    from replay.policy.service import check_in_force

    if not runs:
        return {}
    with connect(settings, migrate=False) as conn:
        report = check_in_force(conn, settings, list(runs), trust_root=root, save=save)
    out: dict[uuid.UUID, VerdictState] = {}
    for entry in report.entries:
        fails = sum(v.outcome == "fail" for v in entry.verdicts)
        unknown = sum(v.outcome == "unknown" for v in entry.verdicts)
        last = runs.get(entry.run_id, -1)
        out[entry.run_id] = VerdictState("rechecked", fails, unknown, last_seq=last)
    return out
