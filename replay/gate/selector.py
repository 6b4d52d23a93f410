"""Which recorded runs a gate judges: `label=nightly,agent=sales-ops@1.4,prompt=sales/v5`.

Why one parser for the gate, `gate compare` and `ledger compare`/`slo`: "the candidate" must
mean the same runs everywhere. A selector is comma-separated `key=value` (a bare word is a
label): `label`, `suite` (the gate tag of contract 1), `agent` (`NAME` or `NAME@VERSION`),
`prompt` (the run's recorded `prompt_version`, `NAME/VERSION`), `model`, `policy` (a policy
hash prefix of at least 8 hex digits), `tenant`, `since`, `until` (ledger.when forms). Anything
else is one line and exit 2. The runs are found by one query (sql/queries/gate.sql) over the
first event of each run; the gate tag is the writer's claim and is parsed defensively here
(a forged tag of the wrong shape is no tag, never a traceback).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.db.sqlfiles import query
from ledger.errors import InputError
from ledger.when import parse_time

if TYPE_CHECKING:
    import psycopg

    from ledger.event_gate import GateVersions

__all__ = [
    "GateTag",
    "SelectedRun",
    "Selector",
    "SelectorError",
    "parse_selector",
    "select_runs",
]

KEYS = ("label", "suite", "agent", "prompt", "model", "policy", "tenant", "since", "until")
_HEX = re.compile(r"^[0-9a-f]{8,64}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class SelectorError(InputError, ValueError):
    """A selector that cannot be parsed (one line, exit 2)."""


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed selector; None everywhere selects every run."""

    label: str | None = None
    suite: str | None = None
    agent: str | None = None
    agent_version: str | None = None
    prompt: str | None = None
    model: str | None = None
    policy: str | None = None
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def versions_match(self, versions: GateVersions) -> bool:
        """True when `versions` (a gate result's) is what this selector's version keys name."""
        wanted = (
            (self.agent, versions.agent),
            (self.agent_version, versions.agent_version),
            (self.prompt, versions.prompt_version),
            (self.model, versions.model),
        )
        if any(want is not None and want != have for want, have in wanted):
            return False
        return self.policy is None or (versions.policy_hash or "").startswith(self.policy)

    def live(self, command: str) -> Selector:
        """This selector, for live traffic (`ledger slo`, `ledger compare`); SelectorError when
        it selects nothing concrete or names gate keys. `label`/`suite` name gate runs (the
        gate tag), which live traffic is not: ignoring them would silently widen a side to
        every run, so they are refused with the command that reads gate runs."""
        gate = [key for key in ("label", "suite") if getattr(self, key) is not None]
        if gate:
            raise SelectorError(
                f"selector {self}: {'/'.join(gate)} {'select' if len(gate) > 1 else 'selects'} "
                f"gate runs, and {command} reads live "
                "traffic: use prompt=, model=, agent=NAME@V, policy=, tenant=, since=, until= "
                "(gate runs: `ledger gate compare`)"
            )
        if self == Selector():
            raise SelectorError(f"an empty selector selects every run: {command} needs "
                                "prompt=, model=, agent=, policy=, tenant=, since= or until=")
        return self

    def window(
        self, since: datetime | None, until: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        """[since, until) intersected with this selector's own since/until (the later start,
        the earlier end): a side's `since=` narrows --since, never replaces or widens it."""
        starts = [t for t in (since, self.since) if t is not None]
        ends = [t for t in (until, self.until) if t is not None]
        return (max(starts) if starts else None, min(ends) if ends else None)

    def __str__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or f.name == "agent_version":
                continue
            if f.name == "agent" and self.agent_version is not None:
                value = f"{value}@{self.agent_version}"
            parts.append(f"{f.name}={value.isoformat() if isinstance(value, datetime) else value}")
        return ",".join(parts) or "all"


def parse_selector(text: str) -> Selector:
    """`label=nightly,agent=sales-ops@1.4` -> Selector; SelectorError names what is wrong."""
    found: dict[str, Any] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = (key.strip(), value.strip()) if sep else ("label", item)
        if key not in KEYS:
            raise SelectorError(
                f"selector {text!r}: unknown key {key!r} (known: {', '.join(KEYS)})"
            )
        if not value:
            raise SelectorError(f"selector {text!r}: {key}= needs a value")
        if key in found:
            raise SelectorError(f"selector {text!r}: {key} is given twice")
        found[key] = value
    return _build(text, found)


def _build(text: str, found: dict[str, Any]) -> Selector:
    if "agent" in found and "@" in found["agent"]:
        name, _, version = found["agent"].partition("@")
        if not name or not version:
            raise SelectorError(f"selector {text!r}: agent is NAME or NAME@VERSION")
        found["agent"], found["agent_version"] = name, version
    if "prompt" in found and "/" not in found["prompt"]:
        raise SelectorError(f"selector {text!r}: prompt is NAME/VERSION")
    if "policy" in found:
        found["policy"] = found["policy"].lower()
        if not _HEX.match(found["policy"]):
            raise SelectorError(
                f"selector {text!r}: policy is a policy hash prefix of at least 8 hex digits"
            )
    for key in ("since", "until"):
        if key in found:
            try:
                found[key] = parse_time(found[key], key)
            except InputError as exc:
                raise SelectorError(str(exc)) from None
    return Selector(**found)


@dataclass(frozen=True, slots=True)
class GateTag:
    """run.started's `attributes.gate` (a writer's claim; fields of the wrong type are None)."""

    suite: str | None
    task: str | None
    attempt: int | None
    label: str | None
    suite_hash: str | None

    @classmethod
    def parse(cls, value: Any) -> GateTag | None:
        if not isinstance(value, dict):
            return None
        attempt = value.get("attempt")
        return cls(
            suite=_text(value.get("suite")),
            task=_text(value.get("task")),
            attempt=attempt if type(attempt) is int and 0 <= attempt < 1_000_000 else None,
            label=_text(value.get("label")),
            suite_hash=_text(value.get("suite_hash")),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 512 else None


@dataclass(frozen=True, slots=True)
class SelectedRun:
    """One run a selector matched, with what its first event says (writer text: print it
    through `printable`)."""

    run_id: uuid.UUID
    origin: str
    agent: str | None
    agent_version: str | None
    tenant: str | None
    gate: GateTag | None
    prompt_version: str | None
    model: str | None
    policy_hash: str | None
    tool_contract_digest: str | None


def select_runs(conn: psycopg.Connection[Any], selector: Selector) -> list[SelectedRun]:
    """The runs `selector` names, oldest first (one query: sql/queries/gate.sql gate_runs)."""
    params = {
        "label": selector.label, "suite": selector.suite, "agent": selector.agent,
        "agent_version": selector.agent_version, "prompt": selector.prompt,
        "model": selector.model, "policy": selector.policy, "tenant": selector.tenant,
        "since": selector.since, "until": selector.until,
    }
    rows = conn.execute(query("gate_runs"), params).fetchall()
    return [
        SelectedRun(
            run_id=r[0], origin=r[1], gate=GateTag.parse(r[3]), agent=r[4], agent_version=r[5],
            tenant=r[6], prompt_version=r[7], model=r[8],
            policy_hash=r[9] if isinstance(r[9], str) and _HASH.match(r[9]) else None,
            tool_contract_digest=r[10],
        )
        for r in rows
    ]
