"""`ledger serve`'s own bad input for several sequencers: one line, exit 2, nothing started."""

from __future__ import annotations

from tests.conftest import CliResult


def test_a_bad_tenant_is_refused(cli: object) -> None:
    res: CliResult = cli("serve", "--tenant", "ok", "--tenant", "Not/A")  # type: ignore[operator]
    assert (res.exit_code, res.stderr) == (
        2, "error: --tenant 'Not/A' is not a tenant name (lower-case letters, digits, '_', "
           "'.', '-')\n")


def test_a_bad_lease_length_is_refused(cli: object) -> None:
    res: CliResult = cli("serve", env={"LEDGER_LEASE_SECONDS": "0"})  # type: ignore[operator]
    assert (res.exit_code, res.stderr) == (
        2, "error: LEDGER_LEASE_SECONDS must be a number of seconds in (0, 86400), not '0'\n")
