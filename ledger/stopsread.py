"""The stops in force, read: what `ledger stops` lists and `ledger runs` prints above its table.

Why apart from ledger.stops: that module writes stops, so it loads the authority stack (signed
registries, yaml, nacl) and the write door with every event model; a read command needs one
statement through the 0016 read API (ledger.store.stops) and must answer within 0.5 s
(issue 18). ledger.stops re-exports these two, so callers keep one name for the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING

from ledger.hooks.errors import StopInfo
from ledger.store.stops import StopRow, stops_since

if TYPE_CHECKING:
    import psycopg

    from ledger.config import Settings

__all__ = ["active_stops", "stop_info"]


def stop_info(row: StopRow) -> StopInfo:
    """The StopInfo (what RunStopped carries) of one `ledger_stops_since` row."""
    return StopInfo(
        target=row.target, requested_by=row.requested_by, reason=row.reason,
        stop_event_id=row.stop_event_id, authority=row.authority or "asserted",
        recorded_at=row.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        origin=row.origin,
        extra={"target_run_id": str(row.target_run_id)} if row.target_run_id else {},
    )  # fmt: skip


def active_stops(
    conn: psycopg.Connection, settings: Settings, origins: Sequence[str] | None = None
) -> list[StopInfo]:
    """The stops in force in `origins` (None: every log the caller may see), oldest first."""
    del settings  # the read API scopes by the caller's role; kept for one call shape
    _, rows = stops_since(conn, origins, 0)
    return [stop_info(r) for r in rows if not r.lifted]
