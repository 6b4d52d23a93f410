"""`check_in_force`: the one service that checks runs against policy, for the CLI and the demo.

Which pack a run is checked against is decided here, once: a pack given by file or by hash
for every run, or else the pack each run recorded it ran under (its first `policy_hash`), found
in the ledger by content address. A run whose pack is unknown gets an `unknown` verdict,
never a pass. Every pack is compiled exactly once per call (CEL errors surface before any run
is read), and the verdicts are saved through one path (`ledger.store.verdicts`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import psycopg

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.errors import InputError
from replay.batch import BatchResult, RunCheck, WhatIf, check_runs
from replay.policy import LoadedPack, compile_pack
from replay.policy.published import find_policy

__all__ = ["CheckReport", "RunCheck", "WhatIf", "check_in_force"]

CheckReport = BatchResult


def check_in_force(
    conn: psycopg.Connection,
    settings: Settings,
    run_ids: Sequence[uuid.UUID],
    *,
    policy: LoadedPack | None = None,
    policy_hash: str | None = None,
    what_if: LoadedPack | None = None,
    jobs: int = 1,
    trust_root: TrustRoot | None = None,
    save: bool = True,
) -> CheckReport:
    """Check `run_ids` against `policy` / the published `policy_hash` / each run's own policy.

    Saves the verdicts (derived rows, replaced per run, policy and evaluator version) and, with
    `what_if`, also checks every run against that pack and diffs the verdicts. Approvals are
    judged by the registry in force under `trust_root` (None: approver roles and signatures are
    `unknown`, never a pass); each log's registry history is read once per call. `save=False`
    checks without writing (a read-only session recomputing what it shows).
    """
    if policy is not None and policy_hash is not None:
        raise InputError("give --policy or --policy-hash, not both")
    if policy_hash is not None:
        policy = find_policy(conn, policy_hash)
        if policy is None:
            raise InputError(f"no published policy {policy_hash}")
    fixed = compile_pack(policy) if policy is not None else None
    other = compile_pack(what_if, what_if=True) if what_if is not None else None
    return check_runs(
        conn, settings, run_ids, fixed=fixed, other=other, jobs=jobs, trust_root=trust_root,
        save=save,
    )
