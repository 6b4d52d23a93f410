"""Tool-call validity (contract 8): args valid against the tool's JSON Schema, no tool error.

PLACEHOLDER written by the slo slice so `ledger slo` can call the contract before toolschema's
module merges; toolschema owns this file and replaces it. With no schemas known every call that
did not fail is `unknown` (a call that errored is `invalid` whatever its schema).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg

from ledger.config import Settings

__all__ = ["CallFacts", "Schemas", "Validity", "call_validity", "load_schemas"]

Verdict = Literal["valid", "invalid", "unknown"]


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the record says about one call: its tool, args, schema/contract digests, outcome."""

    tool: str
    args: Any
    schema_digest: str | None = None
    contract_digest: str | None = None
    status: str | None = None
    error: Any = None


@dataclass(frozen=True, slots=True)
class Validity:
    """One call's verdict and why."""

    verdict: Verdict
    reason: str


@dataclass
class Schemas:
    """Recorded schemas by digest and the contracts (placeholder: none)."""

    recorded: dict[str, Any] = field(default_factory=dict)
    contracts: Any = None


def load_schemas(conn: psycopg.Connection[Any], settings: Settings, origin: str, *,
                 contracts: Any = None, digests: Any = None) -> Schemas:
    """The schemas recorded in `origin` (placeholder: none are known yet)."""
    return Schemas()


def call_validity(facts: CallFacts, schemas: Schemas) -> Validity:
    """`invalid` for a tool error, else `unknown` (placeholder: no schema is ever known)."""
    if facts.status == "error":
        return Validity("invalid", "tool error")
    return Validity("unknown", f"no JSON Schema recorded for {facts.tool}")
