"""`ledger archive` across `ledger keys rotate` (WALK20 finding 9).

After a rotation the log's checkpoints and the bundle's DSSE envelope are signed by the new key,
which keys/root.pub (the original key) does not name: the archive verifies its bundle under the
key ring the log endorses (root + endorsed rotations), as `ledger verify` does. A key event
inside the candidate range ends the range before it (verify reads the key ring from the log),
instead of refusing the tenant for good; only a key event in the oldest candidate partition
refuses, saying so in one line.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from exporters.archive import ring_vkeys
from ledger.config import Settings
from ledger.events import make_event
from ledger.store.partitions import seq_ranges
from ledger.store.sequencer import log_signer
from tests.ledgerkit import append, chained_run
from tests.retention.test_archive import LATER, OLD, _check_archive, _cli, _old_tenant, _soon


def test_archive_after_a_rotation_verifies_under_the_key_ring(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    cli = _cli(monkeypatch, capsys, ledger_settings)
    _old_tenant(ledger_conn, ledger_settings, cli)  # acme 0..27; key.rotated lands at 28
    origin = ledger_settings.origin("acme")
    old = log_signer(ledger_settings, ledger_conn).vkey
    assert cli("keys", "rotate", "--reason", "scheduled").exit_code == 0
    new = log_signer(ledger_settings, ledger_conn).vkey
    assert old != new and ring_vkeys(ledger_conn, ledger_settings, origin) == [old, new]
    out = tmp_path / "arch"
    done = cli("archive", "--tenant", "acme", "--before", _soon(), "--out", str(out), "--json")
    assert (done.exit_code, done.stderr) == (0, "")
    summary = json.loads(done.stdout)
    assert (summary["seq_from"], summary["seq_to"]) == (0, 24)
    ring = tmp_path / "ring.vkeys"  # what an auditor trusts: the root and its endorsed successor
    ring.write_text(f"{old}\n{new}\n", encoding="utf-8")
    offline = cli("verify-bundle", str(out / "bundle"), "--trust", str(ring))
    assert offline.exit_code == 0, offline.stdout
    _check_archive(ledger_conn, ledger_settings, cli, out, summary, trust=ring)


def _runs(conn: psycopg.Connection, settings: Settings, tenant: str, n: int, note: bool) -> None:
    """One batch: a whole old run of 2n+2 events, plus a one-event note run when `note`."""
    events = chained_run(n, tenant=tenant, **OLD)
    if note:
        events.append(make_event("annotation", run_id=uuid.uuid4(), run_seq=0, data={},
                                 tenant=tenant, **OLD))  # fmt: skip
    append(conn, settings, events)


def test_a_key_event_ends_the_range_before_it(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """acme: partition.created 0, old 1..15, key.rotated 16, old 17..23, 2099 24..27 -> the
    archive takes seq 0..15. beta: partition.created 0, key.rotated 1, old 2..7, 2099 8..11 ->
    refused, naming the key event and the partition it sits in."""
    cli = _cli(monkeypatch, capsys, ledger_settings)
    for tenant in ("acme", "beta"):
        made = cli("tenants", "add", tenant, "--own-partition", "--range-size", "8")
        assert made.exit_code == 0, made.stderr
    _runs(ledger_conn, ledger_settings, "acme", 2, note=True)  # 1..7
    _runs(ledger_conn, ledger_settings, "acme", 3, note=False)  # 8..15
    rotated = cli("keys", "rotate", "--reason", "scheduled", "--json")
    assert rotated.exit_code == 0, rotated.stderr
    acme, beta = ledger_settings.origin("acme"), ledger_settings.origin("beta")
    keys = ledger_conn.execute("SELECT origin, seq FROM ledger_events WHERE type = 'key.rotated' "
                               "AND origin = ANY(%s) ORDER BY origin", ([acme, beta],)).fetchall()
    assert keys == [(acme, 16), (beta, 1)]
    _runs(ledger_conn, ledger_settings, "acme", 2, note=True)  # 17..23
    _runs(ledger_conn, ledger_settings, "beta", 2, note=False)  # 2..7
    for tenant in ("acme", "beta"):
        append(ledger_conn, ledger_settings, chained_run(1, tenant=tenant, **LATER))
    done = cli("archive", "--tenant", "acme", "--before", _soon(), "--out", str(tmp_path / "a"))
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith(f"archived seq 0..15 of {acme} to {tmp_path / 'a'} "
                                  "(2 partition(s) detached; ")
    gone = [(r.lo, r.hi) for r in seq_ranges(ledger_conn, acme) if not r.attached]
    assert min(gone)[0] == 0 and max(gone)[1] == 16 and sum(h - lo for lo, h in gone) == 16
    assert f"; archived seq 0..15 of {acme}" in cli("verify").stdout
    refused = cli("archive", "--tenant", "beta", "--before", _soon(), "--out", str(tmp_path / "b"))
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"refused: seq 1 of {beta} is a key event `ledger verify` needs (it reads the key ring "
        "from the log) in the oldest candidate partition, seq 0..7: nothing archived\n")
    assert all(r.attached for r in seq_ranges(ledger_conn, beta))
