"""`ledger archive` end to end, from the operator's side (contract 7 over contracts 1, 4, 6).

A tenant with its own partition of 8-event seq ranges: its `partition.created` record (now) at
seq 0, 23 events from 2020 in whole runs ending at seq 7, 15 and 23, then 4 dated 2099.
Archiving before an hour from now: a hold on one old run refuses (exit 1, one line naming it,
nothing detached); after its release the archive takes exactly [0, 24), the whole partitions
below the first one holding a 2099 event: the bundle verifies offline under the log key, the
tiles hash to the pin's root, the three partitions are detached, DELETE is still refused,
`archive.recorded` carries the bundle digest and the final pin, and `ledger verify` passes on
the rest and reports the archived range. The tests of what a hold covers in a range, of runs an
archive would split, and of a bundle of exactly a seq range need no partitions and always run.

The end-to-end tests need ledger.store.partitions, ledger.tiles_static and ledger.verify_from
(slices part, tiles, incr): skipped until the merge (they passed on a trial merge of the
three branches).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from exporters.archive import tiles_root
from ledger.config import Settings
from ledger.events import EventBase, make_event
from ledger.holds import add_hold, range_holds, release_hold
from ledger.note import Checkpoint, Verifier, open_note
from ledger.store.batch import SINGLE_EVENT_TYPES
from ledger.store.holds import open_run_in
from ledger.store.partitions import seq_ranges
from ledger.verify import trusted_verifiers
from tests.conftest import CliResult, run_main
from tests.integrity.test_privacy import private_run
from tests.ledgerkit import append, chained_run

OLD = {"occurred_at": "2020-03-01T10:00:00Z"}
LATER = {"occurred_at": "2099-01-01T00:00:00Z"}


def test_range_holds_name_what_they_cover(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    first, second = chained_run(3), chained_run(3)  # seq 0..7 and 8..15
    append(ledger_conn, ledger_settings, first)
    append(ledger_conn, ledger_settings, second)
    alice = private_run(ledger_conn, ledger_settings, "alice")  # seq 16..18
    held, _ = add_hold(ledger_conn, ledger_settings, tenant="default", reason="r",
                       recorded_by="legal", run_id=second[0].run_id)  # seq 19
    subject, _ = add_hold(ledger_conn, ledger_settings, tenant="default", reason="r",
                          recorded_by="legal", subject="alice")  # seq 20
    origin = ledger_settings.origin()
    assert range_holds(ledger_conn, origin, 0, 8) == []
    assert [(h.hold_id, s) for h, s in range_holds(ledger_conn, origin, 0, 16)] == [(held, 8)]
    assert [(h.hold_id, s) for h, s in range_holds(ledger_conn, origin, 16, 19)] == [
        (subject, alice[0])]
    # a hold covers its own record: archiving it would silently lift it
    assert [(h.hold_id, s) for h, s in range_holds(ledger_conn, origin, 19, 21)] == [
        (held, 19), (subject, 20)]
    release_hold(ledger_conn, ledger_settings, held, reason="done", recorded_by="legal")
    assert range_holds(ledger_conn, origin, 0, 16) == []
    add_hold(ledger_conn, ledger_settings, tenant="default", reason="all", recorded_by="legal")
    assert [s for _, s in range_holds(ledger_conn, origin, 0, 8)] == [0]


def test_an_archive_never_splits_a_run_nor_takes_an_open_one(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    whole, crossing = chained_run(2), chained_run(3)  # seq 0..5, 6..13
    append(ledger_conn, ledger_settings, whole)
    append(ledger_conn, ledger_settings, crossing)
    append(ledger_conn, ledger_settings, chained_run(1)[:2])  # open: 14..15, no run.ended
    origin = ledger_settings.origin()

    def split(lo: int, hi: int) -> tuple[uuid.UUID, int] | None:
        return open_run_in(ledger_conn, origin, lo, hi, SINGLE_EVENT_TYPES)

    assert split(0, 6) is None and split(0, 14) is None
    assert split(0, 8) == (crossing[0].run_id, 6)
    open_run = split(0, 16)
    assert open_run is not None and open_run[1] == 14


def _soon() -> str:
    """An hour from now (RFC 3339): after the partition.created record, before 2099."""
    return (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         settings: Settings) -> Callable[..., CliResult]:
    monkeypatch.setenv("LEDGER_DSN", settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(settings.home))

    def run(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    return run


def _old_tenant(
    conn: psycopg.Connection, settings: Settings, cli: Callable[..., CliResult]
) -> list[list[EventBase]]:
    """acme with its own partition of 8-event ranges: partition.created (seq 0), old runs of 6
    (1..6) + a note (7), 8 (8..15) and 8 (16..23), then 1 run dated 2099 (24..27): no run
    crosses a range boundary."""
    made = cli("tenants", "add", "acme", "--own-partition", "--range-size", "8")
    assert made.exit_code == 0, made.stderr
    note = make_event("annotation", run_id=uuid.uuid4(), run_seq=0, data={}, tenant="acme", **OLD)
    runs = [[*chained_run(2, tenant="acme", **OLD), note],
            *(chained_run(3, tenant="acme", **OLD) for _ in range(2))]
    for run in runs:
        append(conn, settings, run)
    append(conn, settings, chained_run(1, tenant="acme", **LATER))
    return runs


def test_a_hold_refuses_the_archive_then_it_goes_through(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:

    cli = _cli(monkeypatch, capsys, ledger_settings)
    runs = _old_tenant(ledger_conn, ledger_settings, cli)
    origin = ledger_settings.origin("acme")
    run_id = runs[1][0].run_id
    held = cli("hold", "add", "--tenant", "acme", "--run", str(run_id), "--reason", "case 9",
               "--as", "legal", "--json")
    hold_id = json.loads(held.stdout)["hold_id"]
    out = tmp_path / "arch"
    refused = cli("archive", "--tenant", "acme", "--before", _soon(), "--out", str(out))
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"refused: hold {hold_id} (run {run_id} of tenant acme, by legal: "
        f"'case 9') covers seq 8 of {origin} (range seq 0..23): nothing archived\n")
    assert all(r.attached for r in seq_ranges(ledger_conn, origin)) and not out.exists()
    assert cli("hold", "release", hold_id, "--reason", "settled").exit_code == 0
    done = cli("archive", "--tenant", "acme", "--before", _soon(), "--out", str(out), "--json")
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["seq_from"], summary["seq_to"], summary["disposition"]) == (0, 24, "detached")
    assert len(summary["partitions"]) == 3
    gone = [(r.lo, r.hi) for r in seq_ranges(ledger_conn, origin) if not r.attached]
    assert min(gone)[0] == 0 and max(gone)[1] == 24 and sum(h - lo for lo, h in gone) == 24
    _check_archive(ledger_conn, ledger_settings, cli, out, summary)


def _check_archive(conn: psycopg.Connection, settings: Settings, cli: Callable[..., CliResult],
                   out: Path, summary: dict[str, object], trust: Path | None = None) -> None:
    """Bundle offline, tiles, DELETE refused, the record and its pin, verify of the rest
    (`trust`: the auditor's vkey file, default the log key's .pub)."""
    origin = settings.origin("acme")
    pub = trust or settings.log_key_path.with_name(settings.log_key_path.name + ".pub")
    offline = cli("verify-bundle", str(out / "bundle"), "--trust", str(pub))
    assert offline.exit_code == 0, offline.stdout
    with pytest.raises(psycopg.Error):
        conn.execute("DELETE FROM ledger_events WHERE origin = %s", (origin,))
    row = conn.execute("SELECT convert_from(body, 'UTF8')::jsonb -> 'data' FROM ledger_events "
                       "WHERE origin = %s AND type = 'archive.recorded'", (origin,)).fetchone()
    assert row is not None
    record = row[0]
    assert (record["seq_from"], record["seq_to"], record["bundle_sha256"]) == (
        0, 24, summary["bundle_sha256"])
    keys = [Verifier.from_vkey(v) for v in pub.read_text().split()] if trust else []
    pin = Checkpoint.parse(open_note(record["checkpoint"].encode(),
                                     keys or trusted_verifiers(settings)).body)
    assert pin.size == summary["end_size"] and pin.origin == origin
    assert tiles_root(out / "tiles" / "acme", pin.size) == pin.root
    stored = conn.execute("SELECT root_hash FROM ledger_checkpoints WHERE origin = %s AND "
                          "tree_size = %s", (origin, pin.size)).fetchone()
    assert stored is not None and bytes(stored[0]) == pin.root
    verified = cli("verify", "--json")
    assert verified.exit_code == 0, verified.stdout
    report = json.loads(verified.stdout)
    assert report["archived"] == {origin: [0, 24]}
    line = cli("verify").stdout
    assert f"; archived seq 0..23 of {origin}" in line


def test_nothing_whole_before_the_date_is_refused(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    cli = _cli(monkeypatch, capsys, ledger_settings)
    _old_tenant(ledger_conn, ledger_settings, cli)
    origin = ledger_settings.origin("acme")
    refused = cli("archive", "--tenant", "acme", "--before", "2019-01-01T00:00:00Z")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"refused: no whole seq-range partition of {origin} has "
                                     "all its events before 2019-01-01T00:00:00+00:00")
    bad = cli("archive", "--tenant", "acme")
    assert (bad.exit_code, bad.stderr) == (2, "error: --tenant and --before go together\n")
    both = cli("archive", "--tenant", "acme", "--due")
    assert (both.exit_code, both.stderr) == (2, "error: give --tenant T --before DATE, or --due\n")


def test_the_bundle_of_exactly_a_seq_range_verifies_offline(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    from exporters.archive import log_key_file
    from exporters.bundle import ExportParams, export_bundle
    from exporters.bundle_verify import verify_bundle

    for _ in range(3):
        append(ledger_conn, ledger_settings, chained_run(3, **OLD))  # seq 0..23
    append(ledger_conn, ledger_settings, chained_run(1))  # now: outside the period
    params = ExportParams(since="1970-01-01T00:00:00Z", until="2021-01-01T00:00:00Z",
                          out=tmp_path / "b", record=False, seq_range=(0, 16))
    result = export_bundle(ledger_conn, ledger_settings, params)
    assert (result.events, result.start_size, result.end_size) == (16, 0, 28)
    report = verify_bundle(tmp_path / "b", [log_key_file(ledger_settings)])
    assert (report.valid, report.verdict) == (True, "OK"), report.problems
    lines = (tmp_path / "b" / "ledger/events.jsonl").read_bytes().splitlines()
    assert len(lines) == 16


def test_archive_due_applies_the_recorded_rules(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The rule's cut-off (a year ago) falls before acme's partition.created record (seq 0,
    now): its first range is not due yet, so --due archives nothing and says why per tenant."""
    cli = _cli(monkeypatch, capsys, ledger_settings)
    _old_tenant(ledger_conn, ledger_settings, cli)
    origin = ledger_settings.origin("acme")
    assert cli("retention", "set", "--tenant", "acme", "--keep", "365d",
               "--reason", "one year").exit_code == 0
    due = cli("archive", "--due", "--json")
    assert due.exit_code == 1 and due.stderr == "refused: nothing archived\n"
    [outcome] = json.loads(due.stdout)
    assert outcome["tenant"] == "acme" and outcome["archived"] is None
    assert outcome["reason"].startswith(f"no whole seq-range partition of {origin} has all "
                                        "its events before ")
    assert json.loads(cli("verify", "--json").stdout)["archived"] == {}
