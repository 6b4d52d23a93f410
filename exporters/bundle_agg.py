"""Aggregates of the events of a period: versions in force, runs, and the rare rows kept whole.

Why separate from `bundle_extras` (which writes the files from them): this is folded over every
event while the population streams past, so it has a batch form working on flat columns (no dict
per row); only rare rows (undo, gaps, redactions, guardrail verdicts) are materialised. Memory
is bounded by distinct versions and rare events, not by the period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Aggregates"]

_RARE = ("undo.plan.created", "undo.plan.approved", "undo.step.started", "undo.step.ended")
_KEPT = ("ledger.gap", "redaction", "guardrail.evaluated")
_VERSION_KINDS = ("prompt_version", "model", "policy_hash")
_KEPT_TYPES = frozenset(_RARE + _KEPT)
_FEW = 16


def _same(value: Any) -> Any:
    return value


def _agent_key(pair: tuple[Any, Any]) -> str | None:
    agent, version = pair
    return f"{agent}@{version or '-'}" if agent else None


def _contract_key(pair: tuple[Any, Any]) -> str | None:
    tool, digest = pair
    return f"{tool}#{digest}" if tool and digest else None


@dataclass
class Aggregates:
    """Distinct versions in force and the rare rows (undo, gaps, redactions) of the period."""

    versions: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    undo: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    redactions: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    runs_started: int = 0
    runs_ended: int = 0

    def _seen(self, kind: str, value: str | None, seq: int) -> None:
        if not value:
            return
        slot = self.versions.get((kind, value))
        if slot is None:
            self.versions[(kind, value)] = [seq, seq, 1]
        else:
            slot[1], slot[2] = seq, slot[2] + 1

    def add(self, row: dict[str, Any]) -> None:
        """Fold one flat event row in (the batch form below is what the export uses)."""
        seq, kind = row["seq"], row["type"]
        for name in _VERSION_KINDS:
            self._seen(name, row[name], seq)
        if row["agent"]:
            self._seen("agent", f"{row['agent']}@{row['agent_version'] or '-'}", seq)
        if row["tool"] and row["contract_digest"]:
            self._seen("tool_contract", f"{row['tool']}#{row['contract_digest']}", seq)
        if kind == "run.started":
            self.runs_started += 1
        elif kind == "run.ended":
            self.runs_ended += 1
        elif kind in _RARE or kind in _KEPT:
            self._keep(row)

    def add_batch(self, cols: dict[str, list[Any]], row: Callable[[int], dict[str, Any]]) -> None:
        """`add` for every row of a column batch (same result, without a dict per row)."""
        seqs, types = cols["seq"], cols["type"]
        for name in _VERSION_KINDS:
            self._seen_many(name, seqs, cols[name], _same)
        agents = list(zip(cols["agent"], cols["agent_version"], strict=True))
        self._seen_many("agent", seqs, agents, _agent_key)
        contracts = list(zip(cols["tool"], cols["contract_digest"], strict=True))
        self._seen_many("tool_contract", seqs, contracts, _contract_key)
        self.runs_started += types.count("run.started")
        self.runs_ended += types.count("run.ended")
        if _KEPT_TYPES.isdisjoint(types):
            return
        for i, kind in enumerate(types):
            if kind in _KEPT_TYPES:
                self._keep(row(i))

    def _seen_many(
        self, kind: str, seqs: list[int], values: list[Any], key: Callable[[Any], Any]
    ) -> None:
        """`_seen(kind, key(v), seq)` for every row, done per distinct value when they are few
        (list.index/count run in C), else row by row."""
        distinct = set(values)
        stats: dict[Any, list[int]] = {}
        if len(distinct) <= _FEW:
            n = len(values)
            found = []
            for value in distinct:
                version = key(value)
                if version:
                    first = values.index(value)
                    last = n - 1 - values[::-1].index(value)
                    found.append((first, version, last, values.count(value)))
            for first, version, last, count in sorted(found):
                slot = stats.get(version)
                if slot is None:
                    stats[version] = [seqs[first], seqs[last], count]
                else:  # two values with one key (cannot happen with these keys): merge
                    slot[0] = min(slot[0], seqs[first])
                    slot[1], slot[2] = max(slot[1], seqs[last]), slot[2] + count
        else:
            for seq, value in zip(seqs, values, strict=True):
                version = key(value)
                if version:
                    slot = stats.get(version)
                    if slot is None:
                        stats[version] = [seq, seq, 1]
                    else:
                        slot[1], slot[2] = seq, slot[2] + 1
        for version, (first_seq, last_seq, count) in stats.items():
            have = self.versions.get((kind, version))
            if have is None:
                self.versions[(kind, version)] = [first_seq, last_seq, count]
            else:
                have[1], have[2] = last_seq, have[2] + count

    def _keep(self, row: dict[str, Any]) -> None:
        seq, kind = row["seq"], row["type"]
        value = orjson.loads(row["body"])
        item = {
            "seq": seq,
            "event_id": row["event_id"],
            "run_id": row["run_id"],
            "type": kind,
            "occurred_at": row["occurred_at"],
            "data": value.get("data"),
        }
        if kind in _RARE:
            self.undo.append(item)
        elif kind == "ledger.gap":
            self.gaps.append(item)
        elif kind == "redaction":
            self.redactions.append(item)
        elif row["verdict"] in ("fail", "warn"):
            self.verdicts.append(item)
