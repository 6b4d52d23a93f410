"""Whether a version meets its declared SLOs (contract 7).

PLACEHOLDER of gatecmp's branch: the slo slice owns replay/slo/* and its real
`objectives_met`; until it merges, `ledger versions` codes against this exact signature and
every version reads as "no objectives declared" (None).
"""

from __future__ import annotations

import psycopg

from ledger.config import Settings
from ledger.event_gate import GateVersions

__all__ = ["objectives_met"]


def objectives_met(
    conn: psycopg.Connection, settings: Settings, *, agent: str, versions: GateVersions
) -> bool | None:
    """True / False when objectives are declared and there is data; None otherwise."""
    del conn, settings, agent, versions
    return None
