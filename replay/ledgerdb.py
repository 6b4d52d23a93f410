"""Replay's PostgreSQL side: published policies, policy lookup by hash, derived verdicts.

Policies live in the hashed log as single-event `policy.published` runs so "the policy in force"
is itself tamper-evident. Verdicts are derived data in `ledger_verdicts` (migration 0002): they
can be dropped and recomputed, so writing them is an upsert, not an append.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from ledger import ids
from ledger.config import Settings
from ledger.events import EventBase, decode_event, make_event
from ledger.store.append import submit
from ledger.store.sequencer import try_sequence
from replay.policy.engine import EVALUATOR_VERSION
from replay.policy.loader import LoadedPack, load_pack_data
from replay.policy.verdict import Verdict

__all__ = ["find_policy", "publish_policy", "published_policies", "save_verdicts"]


def published_policies(conn: psycopg.Connection) -> list[tuple[int, EventBase]]:
    """Every policy.published event in log order, as (seq, event)."""
    rows = conn.execute(
        "SELECT seq, body FROM ledger_events WHERE type = 'policy.published' ORDER BY seq"
    ).fetchall()
    return [(int(seq), decode_event(bytes(body))) for seq, body in rows]


def find_policy(conn: psycopg.Connection, policy_hash: str) -> LoadedPack | None:
    """The published pack with this content address (re-validated from its document)."""
    for _, event in published_policies(conn):
        data = event.data
        if data.policy_hash == policy_hash:
            loaded = load_pack_data(data.document, f"<ledger policy {policy_hash[:12]}>")
            return loaded
    return None


def publish_policy(conn: psycopg.Connection, settings: Settings, loaded: LoadedPack) -> str:
    """Append a policy.published event (a single-event run) and sequence it; return its id."""
    event = make_event(
        "policy.published",
        run_id=ids.new_id(),
        run_seq=0,
        versions={"policy_hash": loaded.policy_hash},
        data={
            "policy_hash": loaded.policy_hash,
            "name": loaded.name,
            "version": loaded.version,
            "document": loaded.document,
        },
    )
    submit(conn, [event], settings)
    try_sequence(conn, settings, wait=True)
    return str(event.event_id)


def save_verdicts(
    conn: psycopg.Connection,
    run_id: str,
    policy_hash: str,
    verdicts: Sequence[Verdict],
    through_seq: int | None,
) -> None:
    """Replace this run's verdicts for (policy, evaluator version) with a fresh set."""
    with conn.transaction():
        conn.execute(
            "DELETE FROM ledger_verdicts WHERE run_id = %s AND policy_hash = %s "
            "AND evaluator_version = %s",
            (run_id, policy_hash, EVALUATOR_VERSION),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ledger_verdicts (run_id, policy_hash, evaluator_version, rule_id, "
                "outcome, explanation, evidence, through_seq) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s::uuid[], %s)",
                [
                    (
                        run_id,
                        policy_hash,
                        EVALUATOR_VERSION,
                        v.rule_id,
                        v.outcome,
                        v.explanation,
                        list(v.evidence),
                        through_seq,
                    )
                    for v in verdicts
                ],
            )
