"""An incremental verify notices a log with fewer events than the pinned size (WALK20 4).

It does not read the prefix below the pin, but it probes it: the events at the first and the
last seq are still stored, and so is the first seq of every hole between the attached seq-range
partitions. An owner who detaches a range partition, or deletes rows with the triggers off
while leaving the checkpoints, gets the line full verify gives.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from ledger.verify import report_line, verify_ledger
from tests.ledgerkit import append, attacker, chained_run
from tests.monitor.conftest import Grown, Main, note_at, write_pin


def detach(conn: psycopg.Connection, origin: str, seq: int) -> None:
    """The owner detaches the seq-range partition holding `seq` of `origin`."""
    row = conn.execute("SELECT tableoid::regclass::text FROM ledger_events WHERE origin = %s "
                       "AND seq = %s", (origin, seq)).fetchone()
    assert row is not None
    parent = conn.execute("SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = "
                          "%s::regclass", (row[0],)).fetchone()
    assert parent is not None
    conn.execute(f"ALTER TABLE {parent[0]} DETACH PARTITION {row[0]}")


def same_as_full(g: Grown, main: Main, *args: str) -> str:
    """`verify --from-checkpoint ARGS` exits 1 with exactly full verify's line."""
    full = report_line(verify_ledger(g.conn, g.settings))
    res = main("verify", "--from-checkpoint", *args)
    assert (res.exit_code, res.stdout, res.stderr) == (1, full + "\n", ""), full
    return full


def test_a_detached_partition_under_the_pin(grown: Grown, main: Main) -> None:
    assert main("verify").exit_code == 0  # latest-verified: size 20
    detach(grown.conn, grown.origin, 0)  # the only range: every event of the log
    line = same_as_full(grown, main, "latest-verified")
    assert line == (f"INVALID at seq 0 ({grown.origin}): checkpoint at size 20 but the log has "
                    "only 0 events: tail removed")
    res = main("monitor", "--once")
    assert res.exit_code == 1 and res.stderr == f"monitor: TAMPER in {grown.origin} at seq 0 " \
        "(incremental): tail_removed: checkpoint at size 20 but the log has only 0 events: " \
        "tail removed\n"


def test_a_detached_range_in_the_middle(grown: Grown, main: Main, tmp_path: Path) -> None:
    assert main("tenants", "add", "acme", "--own-partition", "--range-size", "4").exit_code == 0
    for _ in range(3):  # acme: seq 0 partition.created, 1..18 runs
        append(grown.conn, grown.settings, chained_run(2, tenant="acme"))
    origin = grown.settings.origin("acme")
    pin = write_pin(tmp_path, note_at_origin(grown.conn, origin, 19))
    detach(grown.conn, origin, 9)  # seq 8..11 leave; 0..7 and 12..18 stay
    line = same_as_full(grown, main, str(pin))
    assert line == f"INVALID at seq 8 ({origin}): missing seq 8 (next stored is 12)"


def note_at_origin(conn: psycopg.Connection, origin: str, size: int) -> bytes:
    row = conn.execute("SELECT note FROM ledger_checkpoints WHERE origin = %s AND tree_size = %s",
                       (origin, size)).fetchone()
    assert row is not None
    return str(row[0]).encode()


def test_rows_deleted_with_the_checkpoints_left(grown: Grown, main: Main, tmp_path: Path) -> None:
    pin = write_pin(tmp_path, note_at(grown.conn, 20))
    with attacker(grown.conn):  # the tail under the pin, checkpoints kept
        grown.conn.execute("DELETE FROM ledger_events WHERE seq >= 16")
    line = same_as_full(grown, main, str(pin))
    assert line == (f"INVALID at seq 16 ({grown.origin}): checkpoint at size 20 but the log has "
                    "only 16 events: tail removed")
    with attacker(grown.conn):  # and the first ones: a gap at 0
        grown.conn.execute("DELETE FROM ledger_events WHERE seq < 4")
    line = same_as_full(grown, main, str(pin))
    assert line == f"INVALID at seq 0 ({grown.origin}): missing seq 0 (next stored is 4)"
