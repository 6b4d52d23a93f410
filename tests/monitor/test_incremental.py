"""`verify_from` / incremental verify: only the new range is read, with full verify's verdicts.

A tamper inside the new range must be named with the same first bad seq, verdict and reason as
full verify; a tamper below the pin is not read (that is the monitor's re-sampling, see
test_monitor.py); tiles that do not hash to the pinned root are `tiles_mismatch`.
"""

from __future__ import annotations

import pytest

from ledger.note import Checkpoint, open_note
from ledger.verify import trusted_verifiers, verify_ledger
from ledger.verify_incremental import verify_incremental
from ledger.verify_report import VerifyReport
from tests.ledgerkit import attacker
from tests.monitor.conftest import PIN, SIZE, Grown, verdict


def incremental(g: Grown) -> VerifyReport:
    verifiers = trusted_verifiers(g.settings)
    pin = Checkpoint.parse(open_note(g.pin, verifiers).body)
    return verify_incremental(g.conn, g.settings, [pin], verifiers=verifiers, every_origin=False)


def test_only_the_new_range_is_verified(grown: Grown) -> None:
    report = incremental(grown)
    assert verdict(report) == ("ok", None, None, None)
    assert report.incremental == {grown.origin: [PIN, SIZE]}
    assert report.events_verified == SIZE - PIN  # run B's chain continued across the pin
    assert report.checkpoints_verified == 2  # sizes 16 and 20
    assert report.origins == {grown.origin: SIZE}


TAMPERS = {
    "body": "UPDATE ledger_events SET body = convert_to(replace(convert_from(body, 'UTF8'),"
    " 'crm', 'crx'), 'UTF8') WHERE seq = 14",
    "column": "UPDATE ledger_events SET type = 'tool.call.ended' WHERE seq = 16",
    "removed": "DELETE FROM ledger_events WHERE seq = 15",
    "stamp": "UPDATE ledger_events SET submitted_by = 'someone_else' WHERE seq = 17",
    "checkpoint": "UPDATE ledger_checkpoints SET note = replace(note, 'agent', 'agenT')"
    " WHERE tree_size = 16",
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_a_tamper_in_the_new_range_is_named_as_full_verify_names_it(
    grown: Grown, tamper: str
) -> None:
    with attacker(grown.conn):
        grown.conn.execute(TAMPERS[tamper])  # type: ignore[arg-type]
    full = verdict(verify_ledger(grown.conn, grown.settings))
    assert full[0] == "invalid" and full[2] is not None and full[2] >= PIN - 1
    assert verdict(incremental(grown)) == full


def test_a_tamper_below_the_pin_is_not_read(grown: Grown) -> None:
    with attacker(grown.conn):
        grown.conn.execute(
            "UPDATE ledger_events SET body = convert_to(replace(convert_from(body, 'UTF8'),"
            " 'crm', 'crx'), 'UTF8') WHERE seq = 3"
        )
    assert verdict(verify_ledger(grown.conn, grown.settings))[1:3] == ("leaf_mismatch", 3)
    assert incremental(grown).status == "ok"  # the monitor's re-sampling finds this one


def test_tiles_that_do_not_hash_to_the_pinned_root(grown: Grown) -> None:
    with attacker(grown.conn):
        grown.conn.execute(
            "UPDATE ledger_tiles SET hashes = set_byte(hashes, 0, get_byte(hashes, 0) # 1)"
            " WHERE level = 0 AND idx = 0"
        )
    status, verdict_, seq, reason = verdict(incremental(grown))
    assert (status, verdict_, seq) == ("invalid", "tiles_mismatch", PIN)
    assert reason is not None and reason.startswith(
        f"tiles_mismatch: the stored tiles at size {PIN} hash to "
    )
