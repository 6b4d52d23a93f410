"""No window between the hold check and the detach (WALK20 finding 12), and `--due --json`
exits as the text does (finding 13).

Writing and verifying the bundle takes minutes at scale; a hold recorded meanwhile must win. The
service is called in its steps (plan, write, then a hold, then detach): the detach re-checks
the holds in its own transaction, with the sequencer row held, and refuses with nothing
detached, whether the hold is already in the log or still waiting in intake.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from exporters.archive import (
    ArchivePlan,
    ArchiveRefused,
    detach_archive,
    plan_archive,
    write_archive,
)
from ledger.config import Settings
from ledger.event_retention import HoldAddedData
from ledger.holds import add_hold
from ledger.store.door import append, single_event
from ledger.store.partitions import seq_ranges
from tests.retention.test_archive import _cli, _old_tenant


def _planned(
    conn: psycopg.Connection, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> tuple[ArchivePlan, uuid.UUID]:
    """acme's archive of [0, 24) planned and written (bundle and tiles verified)."""
    cli = _cli(monkeypatch, capsys, settings)
    runs = _old_tenant(conn, settings, cli)
    plan = plan_archive(conn, settings, "acme", datetime.now(UTC) + timedelta(hours=1))
    assert (plan.lo, plan.hi) == (0, 24)
    write_archive(conn, settings, plan, tmp_path / "arch", "ops")
    return plan, runs[1][0].run_id


def test_a_hold_recorded_while_the_bundle_is_written_refuses_the_detach(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    plan, run_id = _planned(ledger_conn, ledger_settings, tmp_path, monkeypatch, capsys)
    hold_id, _ = add_hold(ledger_conn, ledger_settings, tenant="acme", reason="late",
                          recorded_by="legal", run_id=run_id)  # fmt: skip
    with pytest.raises(ArchiveRefused) as refused:
        detach_archive(ledger_conn, plan, drop=True)
    assert str(refused.value) == (
        f"hold {hold_id} (run {run_id} of tenant acme, by legal: 'late') covers seq 8 of "
        f"{plan.origin} (range seq 0..23): nothing detached")
    assert all(r.attached for r in seq_ranges(ledger_conn, plan.origin))
    assert ledger_conn.execute("SELECT count(*) FROM ledger_events WHERE origin = %s AND "
                               "seq < 24", (plan.origin,)).fetchone() == (24,)


def test_a_hold_waiting_in_intake_refuses_the_detach(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """`ledger hold add` returned (durable in intake) but no batch has sequenced it yet."""
    plan, run_id = _planned(ledger_conn, ledger_settings, tmp_path, monkeypatch, capsys)
    data = HoldAddedData(hold_id=uuid.uuid4(), tenant="acme", run_id=run_id,
                         reason="late", recorded_by="legal", authority="asserted",
                         authority_reason="test")  # fmt: skip
    append(ledger_conn, [single_event("hold.added", data, tenant="acme")], ledger_settings,
           sequence=False)  # fmt: skip
    with pytest.raises(ArchiveRefused) as refused:
        detach_archive(ledger_conn, plan, drop=False)
    assert str(refused.value) == (
        f"1 hold.added record(s) of {plan.origin} wait in intake to be sequenced (a hold may "
        "cover seq 0..23): nothing detached")
    assert all(r.attached for r in seq_ranges(ledger_conn, plan.origin))


def test_due_exits_the_same_in_text_and_json(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Two tenants with rules, neither due: exit 1 and one refusal line in both modes."""
    cli = _cli(monkeypatch, capsys, ledger_settings)
    _old_tenant(ledger_conn, ledger_settings, cli)
    assert cli("tenants", "add", "default").exit_code == 0  # listed: a rule may name it
    for tenant in ("acme", "default"):
        assert cli("retention", "set", "--tenant", tenant, "--keep", "365d",
                   "--reason", "one year").exit_code == 0
    text, as_json = cli("archive", "--due"), cli("archive", "--due", "--json")
    assert (text.exit_code, text.stderr) == (1, "refused: nothing archived\n")
    assert (as_json.exit_code, as_json.stderr) == (1, "refused: nothing archived\n")
    outcomes = json.loads(as_json.stdout)
    assert [o["tenant"] for o in outcomes] == ["acme", "default"]
    assert [o["archived"] for o in outcomes] == [None, None]
    lines = text.stdout.splitlines()  # the cut-offs differ by the time between the two runs
    assert [line.split(": ", 1)[0] for line in lines] == ["acme", "default"]
    assert all(line.endswith(": nothing archived") for line in lines)
