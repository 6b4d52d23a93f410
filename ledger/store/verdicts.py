"""Derived policy verdicts (`ledger_verdicts`, migration 0002): replaced, never appended.

Verdicts can be dropped and recomputed from the hashed log at any time, so saving a run's
verdicts for a (policy, evaluator version) replaces the previous set: one DELETE for all the
runs of a batch, then one COPY of the new rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["RunVerdicts", "VerdictLike", "replace_verdicts"]


class VerdictLike(Protocol):
    """What is stored of one verdict (replay.policy.Verdict has these fields)."""

    @property
    def rule_id(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def explanation(self) -> str: ...

    @property
    def evidence(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class RunVerdicts:
    """One run's verdicts under one policy, folded through `through_seq`."""

    run_id: str
    policy_hash: str
    verdicts: Sequence[VerdictLike]
    through_seq: int | None


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_text(value: str) -> str:
    """A text value in COPY text format (psycopg's write_row costs ~6 us per verdict row)."""
    return value.translate(_COPY_ESCAPES)


def replace_verdicts(
    conn: psycopg.Connection, evaluator_version: str, sets: Sequence[RunVerdicts]
) -> None:
    """Replace the verdicts of these (run, policy) pairs for this evaluator version."""
    if not sets:
        return
    version = _copy_text(evaluator_version)
    lines: list[str] = []
    for s in sets:
        head = f"{s.run_id}\t{s.policy_hash}\t{version}\t"
        tail = "\\N" if s.through_seq is None else str(s.through_seq)
        lines.extend(
            f"{head}{_copy_text(v.rule_id)}\t{v.outcome}\t"
            f"{_copy_text(v.explanation)}\t{{{','.join(v.evidence)}}}\t{tail}\n"
            for v in s.verdicts
        )
    with conn.transaction():
        # Derived, re-computable rows: a crash may lose the last batch's, so do not wait for
        # the WAL flush of every batch.
        conn.execute("SET LOCAL synchronous_commit = off")
        conn.execute(
            query("delete_verdicts"),
            ([s.run_id for s in sets], [s.policy_hash for s in sets], evaluator_version),
        )
        with conn.cursor() as cur, cur.copy(query("copy_verdicts")) as copy:
            copy.write("".join(lines).encode())
