"""What the connected role may do, asked of the database once per connection (migration 0010).

Production separates roles: an agent host holds only writer credentials (it submits to intake
and reads its own tenant through the read API), `ledger serve` runs as a sequencer. Code shared
by both (the hooks' opportunistic `try_sequence`, private payload sealing) asks here instead of
failing on a privilege error. Embedded single-user mode (the local user owns every table)
answers yes to everything, so it behaves exactly as before.
"""

from __future__ import annotations

import weakref

import psycopg

from ledger.db.sqlfiles import query

__all__ = ["Abilities", "abilities", "can_sequence"]


class Abilities:
    """The privileges of a connection's role that change what shared code does."""

    __slots__ = ("read_subject_keys", "sequence")

    def __init__(self, sequence: bool, read_subject_keys: bool) -> None:
        self.sequence = sequence
        self.read_subject_keys = read_subject_keys


_CACHE: weakref.WeakKeyDictionary[psycopg.Connection, Abilities] = weakref.WeakKeyDictionary()


def abilities(conn: psycopg.Connection) -> Abilities:
    """The role's abilities (cached per connection: roles do not change under a session)."""
    found = _CACHE.get(conn)
    if found is None:
        row = conn.execute(query("role_abilities")).fetchone()
        assert row is not None
        found = _CACHE[conn] = Abilities(bool(row[0]), bool(row[1]))
    return found


def can_sequence(conn: psycopg.Connection) -> bool:
    """May this connection sequence? A writer-only role may not: `ledger serve` does it."""
    return abilities(conn).sequence
