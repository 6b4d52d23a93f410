"""Published packs: publishing is idempotent, and a pack is found by hash through an index."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from ledger.config import Settings
from ledger.db.sqlfiles import query
from ledger.store.policies import published_policies, published_policy
from replay.policy import load_pack, load_pack_text
from replay.policy.published import find_policy, publish_policy

PACK = Path(__file__).with_name("guardrails-basic.yaml")


def test_publish_once_and_find_by_hash(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    basic = load_pack(PACK)
    other = load_pack_text("max_tool_calls: 3\n", "other.yaml")
    first = publish_policy(ledger_conn, ledger_settings, basic)
    assert not first.already_published and first.event_id is not None
    publish_policy(ledger_conn, ledger_settings, other)
    again = publish_policy(ledger_conn, ledger_settings, basic)
    assert again.already_published and again.policy_hash == basic.policy_hash
    listed = published_policies(ledger_conn)
    assert [p.policy_hash for p in listed] == [basic.policy_hash, other.policy_hash]
    found = published_policy(ledger_conn, other.policy_hash)
    assert found is not None and found.seq == listed[1].seq and found.name == other.name
    loaded = find_policy(ledger_conn, basic.policy_hash)
    assert loaded is not None and loaded.document == basic.document
    assert find_policy(ledger_conn, "0" * 64) is None


def test_lookup_by_hash_uses_the_index(ledger_conn: psycopg.Connection) -> None:
    with ledger_conn.transaction(force_rollback=True):
        ledger_conn.execute("SET LOCAL enable_seqscan = off")
        plan = ledger_conn.execute("EXPLAIN " + query("published_policy"), ("ab" * 32,)).fetchall()
    # partitioned storage (0026): the index of each partition, never a scan of the bodies
    used = re.findall(r"Index Scan(?: Backward)? using (\S+)", "\n".join(r[0] for r in plan))
    assert used and all("published_policy" in name for name in used), plan
