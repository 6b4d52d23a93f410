"""The monitor and incremental verify after a legitimate `ledger archive` (WALK20 3 and 6).

Full `ledger verify` honours an archived prefix: the rows [0, seq_to) left the database, the
rest is verified from there. The monitor must do the same whatever its state: kept from before
the archive at a size below the archived boundary or above it, or empty (a new monitor), it
re-samples only seqs at or above the boundary and records no `monitor.alert`. A real tamper
after the boundary is still found.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.events import make_event
from tests.ledgerkit import append, attacker, chained_run
from tests.monitor.test_monitor import alerts
from tests.retention.test_archive import LATER, OLD, _cli, _soon


def test_an_archived_prefix_raises_no_alarm_and_a_later_tamper_is_found(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    cli = _cli(monkeypatch, capsys, ledger_settings)
    origin = ledger_settings.origin("acme")
    below, above, new = (str(tmp_path / n) for n in ("below", "above", "new"))
    assert cli("tenants", "add", "acme", "--own-partition", "--range-size", "8").exit_code == 0
    assert cli("monitor", "--once", "--state", below).exit_code == 0  # acme at size 1 < 24
    note = make_event("annotation", run_id=uuid.uuid4(), run_seq=0, data={}, tenant="acme", **OLD)
    for run in ([*chained_run(2, tenant="acme", **OLD), note], chained_run(3, tenant="acme", **OLD),
                chained_run(3, tenant="acme", **OLD), chained_run(1, tenant="acme", **LATER)):
        append(ledger_conn, ledger_settings, run)  # seq 1..23 old, 24..27 in 2099
    assert cli("monitor", "--once", "--state", above).exit_code == 0  # acme at size 28
    done = cli("archive", "--tenant", "acme", "--before", _soon(), "--out", str(tmp_path / "a"))
    assert done.exit_code == 0, done.stderr
    skipped = f" (archived seq 0..23 of {origin} not sampled)\n"
    for state, new_events, pinned in ((below, 5, 1), (above, 1, 28), (new, 5, 24)):
        res = cli("monitor", "--once", "--sample", "100", "--state", state)
        assert (res.exit_code, res.stderr) == (0, ""), state
        assert res.stdout == (f"monitor: verified {new_events} new events (sizes: {origin} "
                              f"{pinned}→29); re-sampled 5 old entries{skipped}")
    assert alerts(ledger_conn) == []
    res = cli("verify", "--from-checkpoint", "latest-verified", "--state", new)
    assert res.exit_code == 0 and res.stdout.endswith(f"; archived seq 0..23 of {origin}\n")
    with attacker(ledger_conn):
        ledger_conn.execute(
            "UPDATE ledger_events SET body = convert_to(replace(convert_from(body, 'UTF8'),"
            " 'crm', 'crx'), 'UTF8') WHERE origin = %s AND seq = 25", (origin,))
    res = cli("monitor", "--once", "--sample", "100", "--state", above)
    assert (res.exit_code, res.stderr) == (1, (
        f"monitor: TAMPER in {origin} at seq 25 (resample): leaf_mismatch: "
        "leaf hash mismatch at seq 25: stored bytes were changed\n"))
    [alert] = alerts(ledger_conn)
    assert (alert["origin"], alert["seq"], alert["found_by"]) == (origin, 25, "resample")
