"""Version selectors (contract 4): `label=v5`, `prompt=sales-ops/v5`, `agent=NAME@VER`, ...

PLACEHOLDER of gatecmp's branch: gatesuite owns this file and its full parser (times, tenant,
suite); this minimal one has the same API (`parse_selector`, `Selector.versions_match`) so
`ledger gate compare` can be built and tested before the merge, where gatesuite's replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.event_gate import GateVersions

__all__ = ["Selector", "parse_selector"]

_KEYS = ("label", "suite", "agent", "prompt", "model", "policy", "tenant", "since", "until")


@dataclass(frozen=True, slots=True)
class Selector:
    """What a selector asks for; None: any."""

    label: str | None = None
    suite: str | None = None
    agent: str | None = None
    agent_version: str | None = None
    prompt: str | None = None
    model: str | None = None
    policy: str | None = None
    tenant: str | None = None
    since: str | None = None
    until: str | None = None

    def versions_match(self, versions: GateVersions) -> bool:
        """True when every version part given matches `versions`."""
        if self.agent is not None and versions.agent != self.agent:
            return False
        if self.agent_version is not None and versions.agent_version != self.agent_version:
            return False
        if self.prompt is not None and not _prompt_matches(self.prompt, versions):
            return False
        if self.model is not None and versions.model != self.model:
            return False
        policy = versions.policy_hash or ""
        return self.policy is None or policy.startswith(self.policy)


def _prompt_matches(wanted: str, versions: GateVersions) -> bool:
    """`NAME/VERSION` against a recorded prompt_version (`NAME/VERSION`, or `VERSION` of the
    agent NAME)."""
    have = versions.prompt_version
    name, _, version = wanted.partition("/")
    return have == wanted or (have == version and versions.agent == name)


def parse_selector(text: str) -> Selector:
    """Comma-separated `key=value`; a bare word is a label. ValueError (one line) otherwise."""
    parts: dict[str, str] = {}
    for raw in text.split(","):
        item = raw.strip()
        key, eq, value = item.partition("=")
        if not eq:
            key, value = "label", item
        if key not in _KEYS:
            raise ValueError(f"selector {text!r}: unknown key {key!r} (known: {', '.join(_KEYS)})")
        if not value or key in parts:
            raise ValueError(f"selector {text!r}: {key} needs one non-empty value")
        parts[key] = value
    if "prompt" in parts and "/" not in parts["prompt"]:
        raise ValueError(f"selector {text!r}: prompt must be NAME/VERSION")
    if "agent" in parts:
        parts["agent"], _, version = parts["agent"].partition("@")
        if version:
            parts["agent_version"] = version
    return Selector(**parts)
