"""Which runs a pack's `scope` covers: the same answer for the hooks and for replay.

Over the normalised document (as published), so the pack in force is chosen without
validating every pack ever published. A pack without `scope` (or a scope key left out) matches
every value; a listed key matches by glob (fnmatchcase), and a run that does not record the
value (no agent version, say) is not matched by a scope that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

__all__ = ["scope_matches"]


def scope_matches(
    document: Mapping[str, Any], agent: str | None, version: str | None, tenant: str | None
) -> bool:
    """True when the pack's scope covers a run of `agent`@`version` in `tenant`."""
    scope = document.get("scope") if isinstance(document, Mapping) else None
    if not isinstance(scope, Mapping):
        return True
    for key, value in (("agents", agent), ("versions", version), ("tenants", tenant)):
        patterns = scope.get(key)
        if patterns is None:
            continue
        if value is None or not any(fnmatchcase(value, str(p)) for p in patterns):
            return False
    return True
