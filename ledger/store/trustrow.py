"""The root of trust recorded in the database (ledger_trust_roots, migration 0011).

Why: `keys/root.pub` lives on the host, and whoever holds the host's files can delete it and
re-sign the log with a key of their own. The same vkey, written once per origin prefix into an
append-only table, lets `ledger verify` notice when the files and the database disagree: one
side alone can no longer swap the root. Written where root.pub is written (ledger.store.logkey),
insert-if-absent, so ledgers from before this migration get their row on the next sequencing.
"""

from __future__ import annotations

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["record_trust_root", "stored_trust_root"]

# (server, database, role, origin prefix) this process already tried: one query per process,
# not one per batch. The row never changes once written, and a role without INSERT keeps
# lacking it, so neither outcome goes stale.
_tried: set[tuple[str, str, str, str]] = set()


def record_trust_root(conn: psycopg.Connection, prefix: str, vkey: str) -> str | None:
    """Record `vkey` as the root of `prefix` unless one is recorded; return the stored vkey.

    A role without INSERT (a reader, an operator) or a database not yet migrated to 0011 records
    nothing and returns None: recording is the owner's or the sequencer's job, and a failure
    here must never stop sequencing (a savepoint keeps the caller's transaction usable). A
    read-only session (a hot standby, `ledger.db.connect.read_connection`) is not even asked:
    the server says so in its parameter status, and the write would only be refused.
    """
    info = conn.info
    if "on" in (info.parameter_status("in_hot_standby"),
                info.parameter_status("default_transaction_read_only")):
        return None
    tried = (f"{info.host}:{info.port}", info.dbname, info.user, prefix)
    if tried in _tried:
        return None
    _tried.add(tried)
    try:
        with conn.transaction():
            row = conn.execute(
                query("record_trust_root"), {"prefix": prefix, "vkey": vkey}
            ).fetchone()
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedTable):
        return None
    return str(row[0]) if row else None


def stored_trust_root(conn: psycopg.Connection, prefix: str) -> str | None:
    """The vkey recorded for `prefix`, or None (no row yet: nothing sequenced since 0011)."""
    row = conn.execute(query("stored_trust_root"), {"prefix": prefix}).fetchone()
    return str(row[0]) if row else None
