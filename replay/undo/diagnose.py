"""Why a step will not run, in words an operator can act on: probe errors are not drift.

A precondition probe can say three things: the resource is as the agent left it (match), it
changed since (mismatch: drift, re-plan), or it could not be read at all (error). An error says
nothing about the resource; it says the undo target is wrong or down, and the fix is to point
the undo at the right system, not to generate a new plan. So the executor (`ledger undo apply`,
the TUI's apply), the dry run (`ledger undo dry-run`, the TUI's `y`) and the connection to the
target (`undo_target`) all word these cases here, once:
- no target given and the ledger's own database lacks the probed tables: "no undo target
  database: …; set LEDGER_UNDO_TARGET_DSN (or pass --target-dsn to ledger undo) and
  relaunch";
- the target refuses connections: "undo target database unreachable at host:port: …";
- anything else: "probe P failed: … (not drift: …)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import DatabaseUnavailable
from replay.undo.model import ProbeCheck

__all__ = [
    "TARGET_FIX",
    "TargetUnreachable",
    "Verdict",
    "probe_problem",
    "target_label",
    "unreachable",
    "verdict_of",
]

TARGET_FIX = "set LEDGER_UNDO_TARGET_DSN (or pass --target-dsn to ledger undo) and relaunch"
_MISSING = ("UndefinedTable", "UndefinedFunction", "InvalidSchemaName", "UndefinedColumn")
_DOWN = ("OperationalError", "ConnectionTimeout", "Connection refused", "connection failed")


class TargetUnreachable(DatabaseUnavailable):
    """The undo target database (where probes and compensators run) cannot be reached."""


def target_label(dsn: str) -> str:
    """host:port of a DSN (never its password): what a connection message names."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(dsn)
    except Exception:  # an unparsable DSN: psycopg says why when it connects
        return "the given DSN"
    host = str(info.get("host") or info.get("hostaddr") or "localhost")
    return f"{host}:{info.get('port') or 5432}"


def unreachable(dsn: str, exc: BaseException) -> TargetUnreachable:
    """The one-line error for a target that refused or dropped the connection."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    why = "connection refused" if "refused" in text.lower() else text
    return TargetUnreachable(
        f"undo target database unreachable at {target_label(dsn)}: {why}; start it, or "
        f"{TARGET_FIX} to point at the system being repaired"
    )


def probe_problem(check: ProbeCheck, target: str, default_target: bool) -> str:
    """What a probe error means and how to fix it (`target` names where probes ran)."""
    observed: Any = check.observed
    error = str(observed.get("__error__", "")) if isinstance(observed, dict) else str(observed)
    if default_target and any(m in error for m in _MISSING):
        return (
            f"no undo target database: probe {check.probe} ran against the ledger's own "
            f"database, which lacks the system's tables ({error}); {TARGET_FIX}"
        )
    if any(d in error for d in _DOWN):
        return f"undo target database unreachable at {target}: {error}; start it, or {TARGET_FIX}"
    return (
        f"probe {check.probe} failed at {target}: {error} (not drift: the resource could not "
        f"be read); fix the target, then retry"
    )


@dataclass(frozen=True)
class Verdict:
    """A step's verdict now: may it run, the short word shown first, and why not."""

    runs: bool
    word: str  # "would run", "probe error", "drift", "manual", "no compensator"
    reason: str | None = None


def verdict_of(
    checks: Sequence[ProbeCheck], *, target: str, default_target: bool
) -> Verdict | None:
    """The probe part of a verdict: a probe error first (the target), then drift; None: ok."""
    errors = [c for c in checks if c.status == "error"]
    if errors:
        return Verdict(False, "probe error", probe_problem(errors[0], target, default_target))
    drift = [c for c in checks if c.status == "mismatch"]
    if drift:
        c = drift[0]
        return Verdict(
            False,
            "drift",
            f"drift since the plan: {c.probe} expected {c.expect!r}, found {c.observed!r}; "
            "generate and approve a new plan",
        )
    return None
