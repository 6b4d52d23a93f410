"""Legal holds from the operator's side: `ledger hold add|list|release` and `ledger redact`.

A hold in force on the tenant, on a run the subject has payloads in, or on the subject itself
makes `ledger redact` refuse (exit 1, one line naming the hold; nothing shredded); a hold on
another subject does not; after `ledger hold release` the redaction goes through. Releasing a
hold that is not recorded, or twice, is one line, exit 2. A hold must name something that
exists (WALK20 8): a known tenant, a run of it, a subject with payloads there (or
`--allow-unknown`, deliberately); and every hold record says why (16). `hold list` shows the
authority in a word, the reasons with --long.
"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from ledger.authority.trust import NO_TRUST_ROOT
from ledger.config import Settings
from tests.conftest import CliResult, run_main
from tests.integrity.test_privacy import private_run


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         settings: Settings, *args: str) -> CliResult:
    monkeypatch.setenv("LEDGER_DSN", settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(settings.home))
    return run_main(monkeypatch, capsys, *args)


def _payloads(conn: psycopg.Connection, subject: str) -> int:
    row = conn.execute("SELECT count(*) FROM ledger_payloads WHERE subject = %s",
                       (subject,)).fetchone()
    return int(row[0]) if row else 0


def test_a_hold_blocks_redaction_until_released(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    def cli(*args: str) -> CliResult:
        return _cli(monkeypatch, capsys, ledger_settings, *args)

    seqs = private_run(ledger_conn, ledger_settings, "alice")
    private_run(ledger_conn, ledger_settings, "bob")
    row = ledger_conn.execute("SELECT run_id FROM ledger_events WHERE seq = %s",
                              (seqs[0],)).fetchone()
    assert row is not None
    run_id = str(row[0])
    added = cli("hold", "add", "--tenant", "default", "--run", run_id,
                "--reason", "litigation 2026-114", "--as", "legal", "--json")
    assert added.exit_code == 0, added.stderr
    hold_id = json.loads(added.stdout)["hold_id"]
    assert json.loads(added.stdout)["authority"] == "asserted"
    other = cli("hold", "add", "--tenant", "default", "--subject", "carol", "--reason", "dsr",
                "--allow-unknown")  # deliberately before carol's data arrives
    assert other.exit_code == 0 and other.stdout.startswith("hold ")
    refused = cli("redact", "--subject", "alice", "--reason", "GDPR art. 17")
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"refused: hold {hold_id} (run {run_id} of tenant default, by legal: "
        "'litigation 2026-114') covers subject 'alice' of agent-ledger.local/default: "
        "nothing was redacted (`ledger hold release HOLD_ID` first)\n")
    assert _payloads(ledger_conn, "alice") == 2
    bob = cli("redact", "--subject", "bob", "--reason", "GDPR art. 17")  # not in the held run
    assert bob.exit_code == 0, bob.stderr
    listed = json.loads(cli("hold", "list", "--json").stdout)
    assert (listed[0]["hold_id"], listed[0]["run_id"], listed[0]["subject"]) == (
        hold_id, run_id, None)
    assert listed[0]["check"] == f"asserted: {NO_TRUST_ROOT}"
    released = cli("hold", "release", hold_id, "--reason", "settled")
    assert released.exit_code == 0, released.stderr
    assert released.stdout.startswith(f"hold {hold_id} (run {run_id} of tenant default) released")
    done = cli("redact", "--subject", "alice", "--reason", "GDPR art. 17")
    assert done.exit_code == 0, done.stderr
    assert _payloads(ledger_conn, "alice") == 0
    again = cli("hold", "release", hold_id, "--reason", "twice")
    assert (again.exit_code, again.stderr.count("\n")) == (2, 1)
    assert again.stderr.startswith(f"error: hold {hold_id} is already released (seq ")
    unknown = cli("hold", "release", str(uuid.UUID(int=9)), "--reason", "x")
    assert (unknown.exit_code, unknown.stderr) == (
        2, f"error: no hold {uuid.UUID(int=9)} is recorded (`ledger hold list` shows them)\n")
    bad = cli("hold", "release", "not-a-uuid", "--reason", "x")
    assert (bad.exit_code, bad.stderr) == (2, "error: not a hold id (UUID): 'not-a-uuid'\n")
    state = [(h["hold_id"], h["released_seq"] is not None)
             for h in json.loads(cli("hold", "list", "--all", "--json").stdout)]
    assert state[0] == (hold_id, True) and len(state) == 2


def test_tenant_and_subject_holds_cover_the_subject(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    def cli(*args: str) -> CliResult:
        return _cli(monkeypatch, capsys, ledger_settings, *args)

    private_run(ledger_conn, ledger_settings, "alice")
    for scope in (["--subject", "alice"], []):
        added = cli("hold", "add", "--tenant", "default", *scope, "--reason", "r", "--json")
        hold_id = json.loads(added.stdout)["hold_id"]
        refused = cli("redact", "--subject", "alice", "--reason", "erase")
        assert refused.exit_code == 1 and refused.stderr.startswith(f"refused: hold {hold_id} ")
        assert cli("hold", "release", hold_id, "--reason", "done").exit_code == 0
    assert cli("redact", "--subject", "alice", "--reason", "erase").exit_code == 0
    bad = cli("hold", "add", "--tenant", "Bad Tenant", "--reason", "r")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: bad hold: tenant: ")
    assert cli("hold", "list").stdout == "no holds in force\n"


def test_a_hold_must_name_what_exists_and_say_why(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    def cli(*args: str) -> CliResult:
        return _cli(monkeypatch, capsys, ledger_settings, *args)

    private_run(ledger_conn, ledger_settings, "alice")
    other = uuid.UUID(int=1)
    for args, why in (
        (["--tenant", "ghost", "--reason", "r"], "no tenant ghost: it has no log and is not "
         "listed (`ledger tenants list` shows the tenants)"),
        (["--tenant", "default", "--run", str(other), "--reason", "r"], f"run {other} is not a "
         "run of tenant default (no event of it in agent-ledger.local/default)"),
        (["--tenant", "default", "--subject", "carol", "--reason", "r"], "subject 'carol' has "
         "no payloads in tenant default (--allow-unknown holds it before its data arrives)"),
        (["--tenant", "default"], "--reason is required: a hold is recorded with why it was "
         "done"),
    ):  # fmt: skip
        res = cli("hold", "add", *args)
        assert (res.exit_code, res.stdout, res.stderr) == (2, "", f"error: {why}\n")
    assert cli("hold", "list", "--all").stdout == "no holds recorded\n"
    ok = cli("hold", "add", "--tenant", "default", "--subject", "alice", "--reason", "dsr 7")
    assert ok.exit_code == 0, ok.stderr
    early = cli("hold", "add", "--tenant", "default", "--subject", "carol", "--allow-unknown",
                "--reason", "before carol's data arrives", "--json")
    assert early.exit_code == 0, early.stderr
    hold_id = json.loads(early.stdout)["hold_id"]
    bare = cli("hold", "release", hold_id)
    assert (bare.exit_code, bare.stderr) == (
        2, "error: --reason is required: a release is recorded with why it was done\n")
    short = cli("hold", "list").stdout.splitlines()
    assert short[0].split() == ["HOLD", "TENANT", "RUN", "SUBJECT", "STATE", "AUTHORITY"]
    assert short[2].split() == [hold_id, "default", "-", "carol", "in", "force", "asserted"]
    long = cli("hold", "list", "--long").stdout.splitlines()
    assert long[0].split()[-2:] == ["REASON", "CHECK"]
    assert f"before carol's data arrives  asserted: {NO_TRUST_ROOT}" in long[2]
