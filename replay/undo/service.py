"""`plan_for`: the one way to plan an undo, shared by `ledger undo plan`, the TUI and the demo.

Every input of `generate_plan` is resolved here, the same way for every caller:
- contracts: the paths given (`--contracts`), else `$LEDGER_CONTRACTS` (os.pathsep-separated),
  else `<home>/contracts` when it exists, else the shipped examples plus the demo's read-only
  tools (`contract_sources`);
- scope: the given runs plus every run with a tool call in [since, until), whole, recorded as
  sorted run ids and UTC times, so the order or spelling of a request does not change the plan;
- events: those runs' events, and the tool calls of other runs since (drift) from the ledger;
- probes: the contracts' read-only precondition probes, registered by the plug-in modules
  given (`--plugin`), else the demo tools' module, and run against the undo target
  (`undo_target`: the DSN given, else `$LEDGER_UNDO_TARGET_DSN`, else the ledger's database
  with the demo systems' schema first on the search path);
- now: the time given, else the wall clock; it decides which undo windows have expired and is
  recorded as `created_at`, which (like `created_by` and `reason`) is not part of the digest.
So the same incident gives the same plan and digest from every caller, and re-planning an
unchanged run reproduces the digest an approval was made for (docs/undo.md).
"""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from ledger import ids
from ledger.config import Settings
from ledger.db.connect import database_dsn
from ledger.errors import InputError
from replay.undo.contracts import ContractError, ContractRegistry, load_contracts
from replay.undo.diagnose import target_label, unreachable
from replay.undo.examples import CONTRACTS_DIR, DEMO_CONTRACTS_DIR, DEMO_SCHEMA
from replay.undo.model import UndoPlan
from replay.undo.plan import generate_plan, probe_requests
from replay.undo.probes import UndoContext, run_probes
from replay.undo.scope import load_others, load_scope

__all__ = [
    "PlannedUndo",
    "contract_sources",
    "load_plugins",
    "load_registry",
    "plan_for",
    "undo_target",
]

TARGET_DSN_ENV = "LEDGER_UNDO_TARGET_DSN"
SMTP_ENV = "LEDGER_UNDO_SMTP"
CONTRACTS_ENV = "LEDGER_CONTRACTS"
DEFAULT_PLUGINS = ("replay.undo.examples.demo",)


@dataclass(frozen=True)
class PlannedUndo:
    """A plan and what it was computed from (for the caller to show, never part of the plan)."""

    plan: UndoPlan
    contracts: tuple[Path, ...]  # where the effect contracts were read from
    probes_run: int  # distinct read-only probes executed against the undo target

    @property
    def digest(self) -> str:
        return self.plan.digest


def contract_sources(settings: Settings, given: Sequence[Path] | None = None) -> list[Path]:
    """Where effect contracts come from, in the one documented search order (module doc)."""
    if given:
        return list(given)
    env = os.environ.get(CONTRACTS_ENV)
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    home = settings.home / "contracts"
    if home.is_dir():
        return [home]
    return [CONTRACTS_DIR, DEMO_CONTRACTS_DIR]


def load_registry(paths: Sequence[Path]) -> ContractRegistry:
    """The contracts in these files and directories; a bad file is a one-line input error."""
    try:
        return load_contracts(paths)
    except (ContractError, OSError) as exc:
        raise InputError(str(exc)) from None


def load_plugins(names: Sequence[str] | None = None) -> None:
    """Import the modules that register probes and compensators (default: the demo tools').

    Probe results are part of a plan, so every caller loads the same plug-ins before planning;
    a process that happened to import a plug-in already would otherwise plan differently."""
    for name in names or DEFAULT_PLUGINS:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise InputError(f"cannot import plugin {name!r}: {exc}") from None


def undo_target(settings: Settings, dsn: str | None = None, smtp: str | None = None) -> UndoContext:
    """The system being repaired, where probes and compensators run (module doc); the caller
    closes `conn`. `smtp` is host:port for mail steps (else `$LEDGER_UNDO_SMTP`). A target that
    refuses the connection is TargetUnreachable, naming host:port and the fix."""
    dsn = dsn or os.environ.get(TARGET_DSN_ENV)
    if dsn:
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:  # refused, unknown host, bad password
            raise unreachable(dsn, exc) from None
        where, default = target_label(dsn), False
    else:
        path = f"-c search_path={DEMO_SCHEMA},public"
        conn = psycopg.connect(database_dsn(settings), autocommit=True, options=path)
        where, default = "the ledger's own database (no target DSN given)", True
    extra: dict[str, Any] = {}
    smtp = smtp or os.environ.get(SMTP_ENV)  # `ledger undo --smtp`, or the TUI's environment
    if smtp:
        host, _, port = smtp.rpartition(":")
        extra = {"smtp_host": host or "127.0.0.1", "smtp_port": int(port)}
    return UndoContext(conn=conn, extra=extra, target=where, default_target=default)


def _aware(when: datetime | None) -> datetime | None:
    """A time without a zone means UTC (the CLI's convention)."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def _utc(when: datetime | None) -> str | None:
    if when is None:
        return None
    return ids.format_timestamp(int(when.timestamp()) * 10**9 + when.microsecond * 1000)


def _now(now: str | None) -> str:
    return ids.format_timestamp(ids.parse_timestamp(now) if now else ids.now_ns())


def plan_for(
    conn: psycopg.Connection,
    settings: Settings,
    runs: Sequence[uuid.UUID] = (),
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    contracts: Sequence[Path] | None = None,
    plugins: Sequence[str] | None = None,
    target: UndoContext | None = None,
    probe: bool = True,
    now: str | None = None,
    created_by: str | None = None,
    reason: str | None = None,
) -> PlannedUndo:
    """Plan the undo of `runs` and of every run with tool calls in [since, until).

    Reads the ledger through `conn` and writes nothing (callers that keep the plan call
    `replay.undo.record.record_plan`). `target` overrides `undo_target(settings)` for probes.
    """
    if not runs and since is None and until is None:
        raise InputError("give run ids, or --since/--until for a window")
    since, until = _aware(since), _aware(until)
    sources = contract_sources(settings, contracts)
    registry = load_registry(sources)
    scope_ids, events = load_scope(conn, runs, since, until)
    if not events:
        raise InputError("no events in scope")
    load_plugins(plugins)
    requests = probe_requests(events, registry) if probe else []
    probes: dict[str, Any] = {}
    if requests:
        ctx = target if target is not None else undo_target(settings)
        try:
            probes = run_probes(requests, ctx)
        finally:
            if target is None:
                ctx.conn.close()
    plan = generate_plan(
        events,
        registry,
        now=_now(now),
        scope={
            "runs": sorted(str(r) for r in scope_ids),
            "since": _utc(since),
            "until": _utc(until),
        },
        probe_results=probes,
        others=load_others(conn, scope_ids, events),
        created_by=created_by,
        reason=reason,
    )
    return PlannedUndo(plan, tuple(sources), len(probes))
