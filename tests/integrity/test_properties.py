"""Property-based: untampered logs always verify; a single tampering is caught at its seq.

Each Hypothesis example runs inside one transaction on the test's database that is rolled back
at the end, so examples are isolated without creating a database per example.
"""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.config import Settings
from ledger.verify import verify_ledger
from tests.ledgerkit import append, chained_run

runs_st = st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=5)
batches_st = st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=6)
attack_st = st.sampled_from(
    ["none", "edit_body", "delete_row", "edit_type", "edit_run_seq", "edit_recompute"]
)


def _build(
    conn: psycopg.Connection, settings_: Settings, runs: list[int], batches: list[int]
) -> int:
    events = [e for n in runs for e in chained_run(n)]
    i = 0
    for size in batches * (len(events) // max(1, sum(batches)) + 1):
        if i >= len(events):
            break
        append(conn, settings_, events[i : i + size])
        i += size
    return len(events)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    runs=runs_st,
    batches=batches_st,
    attack=attack_st,
    where=st.floats(min_value=0, max_value=0.999),
)
def test_single_tampering_is_detected_at_its_seq(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    runs: list[int],
    batches: list[int],
    attack: str,
    where: float,
) -> None:
    with ledger_conn.transaction(force_rollback=True):
        total = _build(ledger_conn, ledger_settings, runs, batches)
        k = int(where * total)
        ledger_conn.execute("SET LOCAL session_replication_role = replica")
        if attack == "edit_body":
            ledger_conn.execute(
                "UPDATE ledger_events SET body = body || '\\x20'::bytea WHERE seq = %s", (k,)
            )
        elif attack == "delete_row":
            ledger_conn.execute("DELETE FROM ledger_events WHERE seq = %s", (k,))
        elif attack == "edit_type":
            ledger_conn.execute("UPDATE ledger_events SET type = 'custom' WHERE seq = %s", (k,))
        elif attack == "edit_run_seq":
            ledger_conn.execute(
                "UPDATE ledger_events SET run_seq = run_seq + 100 WHERE seq = %s", (k,)
            )
        elif attack == "edit_recompute":  # change content and fix the leaf: only the root can tell
            body = bytes(
                ledger_conn.execute(  # type: ignore[index]
                    "SELECT body FROM ledger_events WHERE seq = %s", (k,)
                ).fetchone()[0]
            )
            forged = body.replace(b'"data":{', b'"data":{"x":1,', 1)
            from ledger.events import leaf_hash

            ledger_conn.execute(
                "UPDATE ledger_events SET body = %s, leaf_hash = %s WHERE seq = %s",
                (forged, leaf_hash(forged), k),
            )
        report = verify_ledger(ledger_conn, ledger_settings)
        if attack == "edit_recompute":
            sizes = [r[0] for r in ledger_conn.execute("SELECT tree_size FROM ledger_checkpoints")]
            start = max([s for s in sizes if s <= k], default=0)
            next_in_run = ledger_conn.execute(  # type: ignore[index]
                "SELECT min(b.seq) FROM ledger_events a JOIN ledger_events b "
                "ON b.run_id = a.run_id "
                "AND b.run_seq = a.run_seq + 1 WHERE a.seq = %s",
                (k,),
            ).fetchone()[0]
            end = min(s for s in sizes if s > k)
            if next_in_run is not None and next_in_run < end:
                assert (report.verdict, report.first_bad_seq) == ("chain_break", next_in_run)
            else:
                assert (report.verdict, report.first_bad_seq) == ("root_mismatch", start)
            return
        if attack == "none":
            assert (report.status, report.events_verified) == ("ok", total)
            return
        expected = {
            "edit_body": "leaf_mismatch",
            "edit_type": "column_mismatch",
            "edit_run_seq": "column_mismatch",
        }
        assert report.status == "invalid"
        if attack == "delete_row" and k == total - 1:
            assert (report.verdict, report.first_bad_seq) == ("tail_removed", k)
        elif attack == "delete_row":
            assert (report.verdict, report.first_bad_seq) == ("missing_seq", k)
        else:
            assert (report.verdict, report.first_bad_seq) == (expected[attack], k)
