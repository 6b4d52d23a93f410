"""Run selectors (contract 4): `label=..,agent=NAME@V,prompt=NAME/V,model=..,policy=HEX..`.

PLACEHOLDER written by the slo slice so `ledger slo --version` and `ledger compare` can parse
selectors before gatesuite's parser merges; gatesuite owns this file and replaces it. Same API:
`parse_selector(text) -> Selector`, `Selector.versions_match(GateVersions) -> bool`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.errors import InputError
from ledger.event_gate import GateVersions
from ledger.when import parse_time

__all__ = ["Selector", "SelectorError", "parse_selector"]

KEYS = ("label", "suite", "agent", "prompt", "model", "policy", "tenant", "since", "until")
_HEX = re.compile(r"^[0-9a-f]{8,64}$")


class SelectorError(InputError, ValueError):
    """A selector that cannot be parsed: one line, exit 2 (a ValueError, as contract 4 says)."""


@dataclass(frozen=True, slots=True)
class Selector:
    """Which runs (or which versions) a comparison side means; None: any."""

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

    def versions_match(self, v: GateVersions) -> bool:
        """True when the recorded versions `v` are the ones this selector names."""
        pairs = ((self.agent, v.agent), (self.agent_version, v.agent_version),
                 (self.prompt, v.prompt_version), (self.model, v.model))  # fmt: skip
        if any(want is not None and want != got for want, got in pairs):
            return False
        return self.policy is None or (v.policy_hash or "").startswith(self.policy)


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
