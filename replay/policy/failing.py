"""The runs with at least one failing rule: `ledger runs --failing`, by way of a plug-in.

Why here and a plug-in: the set must be exactly what `ledger check` reports (the same service,
`check_in_force`, the pack in force for each run, the same trust root), and `ledger runs` lives
in the ledger layer, which never imports replay. pyproject.toml registers `failing_runs` in the
`agent_ledger.rule_failures` group (ledger/plugins.py); the runs command loads it by name.
Read-only: nothing is saved (a reader may list failing runs; `ledger check` stores verdicts).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

import psycopg

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from replay.policy.failures import run_failures

__all__ = ["failing_runs"]


def failing_runs(
    conn: psycopg.Connection,
    settings: Settings,
    run_ids: Sequence[uuid.UUID],
    trust_root: TrustRoot | None,
) -> frozenset[uuid.UUID]:
    """The runs among `run_ids` that `ledger check` would report with a FAIL verdict."""
    found = run_failures(conn, settings, run_ids, trust_root=trust_root, jobs=os.cpu_count() or 1)
    return frozenset(run_id for run_id, found_run in found.items() if found_run.fails)
