"""Issue 15 item 2: run chains keyed by log, nothing after run.ended, stamps.

Written from the attacker's side. The attacker holds writer credentials (intake INSERT): it
submits an event for tenant b naming a run of the default tenant, or an event after a run's
run.ended, and the sequencer must reject it with a reason and keep sequencing everyone else.
A second attacker holds the database superuser password but not the log key: it edits the
stamp columns (submitted_by, recorded_at) with the triggers off, and `ledger verify` must name
the seq.
"""

from __future__ import annotations

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import EventBase, leaf_hash, make_event
from ledger.store.append import encode_for_intake, submit
from ledger.store.read import latest_checkpoint
from ledger.store.sequencer import try_sequence
from ledger.verify import verify_ledger
from tests.ledgerkit import append, append_one_per_checkpoint, attacker, chained_run

DEFAULT, B = "agent-ledger.local/default", "agent-ledger.local/b"


def _leaf(event: EventBase, settings: Settings) -> str:
    return leaf_hash(encode_for_intake(event, settings).body).hex()


def _rejected(conn: psycopg.Connection, event: EventBase) -> str:
    row = conn.execute(
        "SELECT reason FROM ledger_rejects WHERE event_id = %s", (event.event_id,)
    ).fetchone()
    assert row is not None, "the event was not rejected"
    assert conn.execute(
        "SELECT count(*) FROM ledger_events WHERE event_id = %s", (event.event_id,)
    ).fetchone() == (0,), "a rejected event was chained"
    return str(row[0])


def _assert_both_logs_good(
    conn: psycopg.Connection, settings: Settings, sizes: dict[str, int]
) -> None:
    """Each log verifies on its own and its newest checkpoint covers every event."""
    for origin, size in sizes.items():
        report = verify_ledger(conn, settings, only_origin=origin)
        assert (report.status, report.origins) == ("ok", {origin: size}), report.reason
        checkpoint = latest_checkpoint(conn, origin)
        assert checkpoint is not None and checkpoint.tree_size == size


def _follower(run: list[EventBase], settings: Settings, tenant: str, **kw: object) -> EventBase:
    """A plausible next event of `run` (right run_seq and prev_run_hash), for `tenant`."""
    last = run[-1]
    return make_event(
        "custom", run_id=last.run_id, run_seq=last.run_seq + 1,
        prev_run_hash=_leaf(last, settings), data={"name": "injected"}, tenant=tenant, **kw,
    )  # fmt: skip


def test_event_of_another_tenants_run_is_rejected(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    stored = chained_run(1)[:-1]  # a default-tenant run still going (no run.ended yet)
    append(ledger_conn, ledger_settings, stored)
    attack = _follower(stored, ledger_settings, "b")
    # the same attack inside one batch: a fresh default run and tenant b's event of that run
    fresh = chained_run(1)
    same_batch = _follower(fresh[:1], ledger_settings, "b")
    submit(ledger_conn, [attack, fresh[0], same_batch], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)

    run_id, other = stored[0].run_id, fresh[0].run_id
    assert _rejected(ledger_conn, attack) == (
        f"run {run_id} belongs to another log: tenant 'b' cannot add to it"
    )
    assert _rejected(ledger_conn, same_batch) == (
        f"run {other} belongs to another log: tenant 'b' cannot add to it"
    )
    # the next good events of both tenants are sequenced and checkpointed; both logs verify
    append(ledger_conn, ledger_settings, chained_run(1, tenant="b") + fresh[1:] + [
        _follower(stored, ledger_settings, "default")])
    _assert_both_logs_good(ledger_conn, ledger_settings, {DEFAULT: 3 + 4 + 1, B: 4})


def test_event_after_run_ended_is_rejected(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    run = chained_run(1)  # run.started, tool started/ended, run.ended at run_seq 3
    append(ledger_conn, ledger_settings, run)
    after = _follower(run, ledger_settings, "default")
    far_ahead = make_event(
        "custom", run_id=run[0].run_id, run_seq=9, prev_run_hash="0" * 64,
        data={"name": "x"},
    )  # fmt: skip
    submit(ledger_conn, [after, far_ahead], ledger_settings)
    try_sequence(ledger_conn, ledger_settings, wait=True)
    reason = f"run {run[0].run_id} ended at run_seq 3: nothing may follow run.ended"
    assert _rejected(ledger_conn, after) == reason
    assert _rejected(ledger_conn, far_ahead) == reason  # rejected, not held in intake forever
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)
    append(ledger_conn, ledger_settings, chained_run(1) + chained_run(1, tenant="b"))
    _assert_both_logs_good(ledger_conn, ledger_settings, {DEFAULT: 8, B: 4})


@pytest.fixture
def stamped(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> psycopg.Connection:
    """One run of 4 events, one checkpoint (and one signed stamp note) per event."""
    append_one_per_checkpoint(ledger_conn, ledger_settings, chained_run(1))
    return ledger_conn


def test_stamps_are_the_stored_columns(
    stamped: psycopg.Connection, ledger_settings: Settings
) -> None:
    rows = stamped.execute(
        "SELECT submitted_by = current_user, recorded_at FROM ledger_events ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in rows] == [True] * 4
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # one batch after another
    report = verify_ledger(stamped, ledger_settings)
    assert (report.status, report.unstamped) == ("ok", {})


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("submitted_by = 'ledger_operator'", "submitted_by or recorded_at of seq 2 do not match"
         " the stamp head signed at size 3"),
        ("recorded_at = recorded_at - interval '1 microsecond'", "submitted_by or recorded_at "
         "of seq 2 do not match the stamp head signed at size 3"),
        ("submitted_by = NULL", "submitted_by of seq 2 removed"),
    ],
)
def test_tampered_stamp_is_named(
    stamped: psycopg.Connection, ledger_settings: Settings, edit: str, reason: str
) -> None:
    with attacker(stamped):
        stamped.execute(f"UPDATE ledger_events SET {edit} WHERE seq = 2")
    report = verify_ledger(stamped, ledger_settings)
    assert (report.status, report.first_bad_seq, report.verdict) == ("invalid", 2, "stamp_tampered")
    assert report.reason == f"stamps tampered: {reason}"


def test_removed_stamp_note_is_caught(
    stamped: psycopg.Connection, ledger_settings: Settings
) -> None:
    with attacker(stamped):
        stamped.execute(
            "UPDATE ledger_checkpoints SET stamp_note = NULL, stamp_head = NULL,"
            " stamp_start = NULL WHERE tree_size = 3"
        )
    report = verify_ledger(stamped, ledger_settings)
    assert (report.status, report.first_bad_seq, report.verdict) == ("invalid", 2, "stamp_missing")


def test_rows_from_before_stamping_verify_as_unstamped(
    stamped: psycopg.Connection, ledger_settings: Settings
) -> None:
    """A log sequenced before migration 0009 has no stamps: unstamped, not tampered; the
    chain starts at the first batch after the upgrade."""
    with attacker(stamped):  # make the 4 events look as they would before 0009
        stamped.execute("UPDATE ledger_events SET submitted_by = NULL")
        stamped.execute(
            "UPDATE ledger_checkpoints SET stamp_note = NULL, stamp_head = NULL, stamp_start = NULL"
        )
    report = verify_ledger(stamped, ledger_settings)
    assert (report.status, report.unstamped) == ("ok", {DEFAULT: 4})
    append(stamped, ledger_settings, chained_run(1))
    report = verify_ledger(stamped, ledger_settings)
    assert (report.status, report.origins, report.unstamped) == ("ok", {DEFAULT: 8}, {DEFAULT: 4})
    with attacker(stamped):  # a forged stamp on a legacy row is caught too
        stamped.execute("UPDATE ledger_events SET submitted_by = 'mallory' WHERE seq = 1")
    report = verify_ledger(stamped, ledger_settings)
    assert (report.first_bad_seq, report.verdict) == (1, "stamp_tampered")
