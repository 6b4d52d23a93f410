"""`ledger retention set|list`: rules per tenant and class, what each makes due, --due's cut-off.

The newest rule per (tenant, class) is in force; `list` counts, per rule, the events of its
class that occurred before now minus `keep`; `due_cutoff` is the longest keep of a tenant's
rules, and only for a tenant with a "*" rule. Bad input is one line, exit 2, nothing recorded:
a rule without a reason, or for a tenant with no log and no catalog row (WALK20 8, 16).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ledger.config import Settings
from ledger.retention import due_cutoff, rules_in_force
from tests.conftest import CliResult, run_main
from tests.ledgerkit import append, chained_run


def test_rules_in_force_and_what_they_make_due(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))

    def cli(*args: str) -> CliResult:
        return run_main(monkeypatch, capsys, *args)

    append(ledger_conn, ledger_settings, chained_run(2, occurred_at="2020-01-01T00:00:00Z"))
    append(ledger_conn, ledger_settings, chained_run(1))  # now
    for keep in ("30d", "400d"):  # the second replaces the first
        done = cli("retention", "set", "--tenant", "default", "--keep", keep, "--reason", "soc2")
        assert done.exit_code == 0, done.stderr
    assert done.stdout == ("retention rule for default *: keep 400d; asserted: no trust root "
                           "given (set LEDGER_TRUST_ROOT or --trust-root)\n")
    assert cli("retention", "set", "--tenant", "default", "--class", "tool.call.*", "--keep",
               "2w", "--reason", "tools").exit_code == 0
    rows = json.loads(cli("retention", "list", "--json").stdout)
    assert [(r["class"], r["keep"], r["due_events"], r["due_seq"]) for r in rows] == [
        ("*", "400d", 6, [0, 5]), ("tool.call.*", "2w", 4, [1, 4])]
    rules = rules_in_force(ledger_conn)
    now = datetime.now(UTC)
    assert due_cutoff(rules, "default", now) == now - timedelta(days=400)
    assert due_cutoff(rules, "acme", now) is None
    for bad, why in ((["--keep", "forever"], "error: --keep 'forever' is not a duration"),
                     (["--keep", "1d", "--class", "llm.*x"], "error: bad retention rule: "
                      "event_class: ")):  # fmt: skip
        res = cli("retention", "set", "--tenant", "default", *bad, "--reason", "x")
        assert res.exit_code == 2 and res.stderr.startswith(why), res.stderr
        assert res.stderr.count("\n") == 1
    assert len(rules_in_force(ledger_conn)) == 2
    table = cli("retention", "list").stdout.splitlines()
    assert table[0].split() == ["TENANT", "CLASS", "KEEP", "DUE", "SEQ", "BEFORE", "REASON"]


def test_a_rule_needs_a_reason_and_a_known_tenant(
    ledger_conn: psycopg.Connection, ledger_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_DSN", ledger_settings.dsn or "")
    monkeypatch.setenv("LEDGER_HOME", str(ledger_settings.home))
    append(ledger_conn, ledger_settings, chained_run(1))
    for args, why in (
        (["--tenant", "nosuchtenant", "--reason", "x"], "error: no tenant nosuchtenant: it has "
         "no log and is not listed (`ledger tenants list` shows the tenants)\n"),
        (["--tenant", "default"], "error: --reason is required: a retention rule is recorded "
         "with why it was done\n"),
        (["--tenant", "default", "--reason", "  "], "error: --reason is required: a retention "
         "rule is recorded with why it was done\n"),
    ):  # fmt: skip
        res = run_main(monkeypatch, capsys, "retention", "set", "--keep", "1d", *args)
        assert (res.exit_code, res.stdout, res.stderr) == (2, "", why)
    assert rules_in_force(ledger_conn) == []
    assert run_main(monkeypatch, capsys, "tenants", "add", "acme").exit_code == 0  # listed
    listed = run_main(monkeypatch, capsys, "retention", "set", "--tenant", "acme", "--keep",
                      "1d", "--reason", "before its first run")  # fmt: skip
    assert listed.exit_code == 0, listed.stderr
    assert [r.data.tenant for r in rules_in_force(ledger_conn)] == ["acme"]
