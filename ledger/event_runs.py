"""The `data` of run continuity events (issue 17): a run suspended, and the same run resumed.

Their own module so ledger.event_data stays small; `ledger.events` re-exports both names.
A suspended run is open and waiting (an interrupt, an approval, a workflow sleeping), not
ended: it records `run.suspended` instead of `run.ended`, and whoever resumes it, in any
process, continues the same chain with `run.resumed` at the head read from the ledger.
"""

from __future__ import annotations

import uuid

from ledger.event_data import Frozen, Totals

__all__ = ["RunResumedData", "RunSuspendedData"]


class RunSuspendedData(Frozen):
    """Why the run paused, the key that finds it again, and its totals so far (what the
    resumed run continues from, so its run.ended covers the whole run)."""

    reason: str = "interrupt"
    resume_key: str | None = None
    pending_approvals: tuple[str, ...] = ()
    totals: Totals = Totals()


class RunResumedData(Frozen):
    """The run goes on: which `run.suspended` it continues (None: the run's head was not a
    suspension, e.g. a process died mid-run), and the key it was found by."""

    suspended_event: uuid.UUID | None = None
    resume_key: str | None = None
