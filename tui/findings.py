"""Rule failures with their evidence, for the Trace panel, the timeline badges and Replay `c`.

Why one module: every screen that says "this run breaks rule X" must say exactly what `ledger
check` says, so all of them ask `replay.policy.failures.run_failures` (over `check_in_force`,
the pack in force in the run's own log, the session's trust root) and draw its answer here. The
check runs on its own connection, inside the caller's thread worker, so the TUI's shared
connection is never held for a whole check; nothing is saved (a read-only session may call it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from rich.text import Text
from textual.message import Message

from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.errors import LedgerError
from replay.policy.failures import RunFailures, run_failures
from tui.literal import literal

__all__ = ["Findings", "FindingsLoaded", "failures_text", "load_findings"]

_STYLE = {"fail": "bold red", "unknown": "yellow"}


@dataclass(frozen=True)
class Findings:
    """`ledger check`'s non-passing verdicts of some runs, or why they could not be computed."""

    runs: dict[uuid.UUID, RunFailures] = field(default_factory=dict)
    error: str = ""

    def cited(self) -> dict[str, list[tuple[str, str]]]:
        """Event id -> (outcome, rule id) of every verdict citing it, fails first."""
        out: dict[str, list[tuple[str, str]]] = {}
        for found in self.runs.values():
            for event_id, verdicts in found.cited().items():
                out.setdefault(event_id, []).extend((v.outcome, v.rule_id) for v in verdicts)
        return out


class FindingsLoaded(Message):
    """A worker computed the findings of a screen's runs."""

    def __init__(self, findings: Findings) -> None:
        super().__init__()
        self.findings = findings


def load_findings(
    settings: Settings, run_ids: Sequence[str], root: TrustRoot | None
) -> Findings:
    """The non-passing verdicts of `run_ids` (call it from a thread worker)."""
    ids = [uuid.UUID(r) for r in run_ids]
    try:
        with connect(settings, migrate=False) as conn:
            return Findings(run_failures(conn, settings, ids, trust_root=root))
    except (LedgerError, psycopg.Error, ValueError) as exc:
        return Findings(error=f"rule check failed: {exc}")


def failures_text(
    findings: Findings | None, run_id: str, docs: Sequence[Mapping[str, Any]] = ()
) -> Text:
    """The Trace panel's section: each failing/unknown rule, its explanation and the events it
    cites (run position and type when the run's documents are given). Recorded text is literal.
    """
    out = Text("\nrule failures (as `ledger check`)\n", style="bold")
    if findings is None:
        return out.append("  checking…\n", style="dim")
    if findings.error:
        return out.append_text(literal(f"  {findings.error}", style="bold red")).append("\n")
    found = findings.runs.get(uuid.UUID(run_id))
    if found is None:
        return out.append("  not checked (no events, or a control-plane run)\n", style="dim")
    if not found.verdicts:
        return out.append("  none: every rule passes\n", style="green")
    where = {str(d.get("event_id")): d for d in docs}
    out.append(f"  policy {(found.policy_hash or '-')[:12]} · {len(found.fails)} fail, "
               f"{len(found.unknowns)} unknown\n", style="dim")  # fmt: skip
    for verdict in found.verdicts:
        out.append(f"  {verdict.outcome.upper():<8}", style=_STYLE.get(verdict.outcome, ""))
        out.append_text(literal(f"{verdict.rule_id}: {verdict.explanation}"))
        out.append("\n")
        for event_id in verdict.evidence[:8]:
            doc = where.get(event_id, {})
            at = f"#{doc.get('run_seq')} {doc.get('type')} " if doc else ""
            out.append_text(literal(f"{'':<10}evidence {at}{event_id}", style="dim"))
            out.append("\n")
        if len(verdict.evidence) > 8:
            out.append(f"{'':<10}… {len(verdict.evidence) - 8} more\n", style="dim")
    return out
