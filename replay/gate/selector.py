"""Run selectors (contract 4): `label=..,agent=NAME@V,prompt=NAME/V,model=..,policy=HEX..`.

PLACEHOLDER written by the slo slice so `ledger slo --version` and `ledger compare` can parse
selectors before gatesuite's parser merges; gatesuite owns this file and replaces it. Same API:
`parse_selector(text) -> Selector`, `Selector.versions_match(GateVersions) -> bool`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ledger.errors import InputError
from ledger.event_gate import GateVersions
from ledger.terminal import printable
from ledger.when import parse_time

__all__ = ["Selector", "SelectorError", "parse_selector"]

_KEYS = ("label", "suite", "agent", "prompt", "model", "policy", "tenant", "since", "until")
_HEX = re.compile(r"[0-9a-f]{8,64}")


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
    """The selector `text` names; ValueError (one line) for an unknown key or a bad value."""
    found: dict[str, object] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            key, value = "label", part
        if key not in _KEYS:
            raise SelectorError(f"selector {printable(text)!r}: unknown key {printable(key)!r} "
                             f"(one of: {', '.join(_KEYS)})")
        if not value:
            raise SelectorError(f"selector {printable(text)!r}: {key} needs a value")
        if key == "agent":
            name, at, version = value.partition("@")
            found["agent"], found["agent_version"] = name, (version if at else None)
        elif key == "policy":
            if not _HEX.fullmatch(value):
                raise SelectorError("selector: policy must be a hash prefix of >= 8 hex digits")
            found["policy"] = value
        elif key == "prompt" and "/" not in value:
            raise SelectorError(f"selector: prompt must be NAME/VERSION, not {printable(value)!r}")
        elif key in ("since", "until"):
            found[key] = parse_time(value, f"selector {key}")
        else:
            found[key] = value
    return Selector(**found)  # type: ignore[arg-type]
