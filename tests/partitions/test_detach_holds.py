"""Detaching a tenant under a legal hold (WALK20 finding 7): refused while any hold is in force
in its log (tenant, run or subject hold), one line naming the hold, exit 1, nothing recorded;
after the release the detach goes through, `ledger verify` says the tenant left (summary and
JSON, from the catalog: final size and root), `hold list --all` still shows its hold marked
`(tenant detached)`, and `tenants list` shows the detached range. `--reason` is required."""

from __future__ import annotations

import json

import psycopg
import pytest

from ledger.config import Settings
from tests.ledgerkit import append, chained_run
from tests.partitions.conftest import Main

pytestmark = pytest.mark.xdist_group("partitions")


def _events(conn: psycopg.Connection, origin: str) -> int:
    row = conn.execute("SELECT count(*) FROM ledger_events WHERE origin = %s",
                       (origin,)).fetchone()
    return int(row[0]) if row else 0


def test_a_hold_blocks_detach_and_a_detached_tenant_stays_visible(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, main: Main
) -> None:
    assert main("tenants", "add", "zz", "--own-partition", "--range-size", "8").exit_code == 0
    run = chained_run(1, tenant="zz")
    append(ledger_conn, ledger_settings, run)
    append(ledger_conn, ledger_settings, chained_run(1, tenant="globex"))
    origin = ledger_settings.origin("zz")
    added = main("hold", "add", "--tenant", "zz", "--run", str(run[0].run_id),
                 "--reason", "litigation on zz", "--as", "legal", "--json")
    assert added.exit_code == 0, added.stderr
    hold_id = json.loads(added.stdout)["hold_id"]
    before = _events(ledger_conn, origin)
    refused = main("tenants", "detach", "zz", "--reason", "contract ended")
    assert (refused.exit_code, refused.stdout, refused.stderr) == (1, "", (
        f"refused: hold {hold_id} (run {run[0].run_id} of tenant zz, by legal: "
        "'litigation on zz') is in force on tenant zz: nothing detached "
        "(`ledger hold release HOLD_ID` first)\n"))
    assert _events(ledger_conn, origin) == before  # no partition.detached recorded
    bare = main("tenants", "detach", "zz")
    assert (bare.exit_code, bare.stderr) == (
        2, "error: --reason is required: a detach is recorded with why it was done\n")
    assert main("hold", "release", hold_id, "--reason", "settled").exit_code == 0
    done = main("tenants", "detach", "zz", "--reason", "contract ended", "--json")
    assert done.exit_code == 0, done.stderr
    size = json.loads(done.stdout)["size"]
    assert size == before + 2  # the release and the partition.detached record
    verify = main("verify")
    assert verify.exit_code == 0, verify.stderr
    assert verify.stdout.startswith("OK: ") and verify.stdout.endswith(
        f"; tenant zz detached at size {size} (partition.detached)\n")
    report = json.loads(main("verify", "--json").stdout)
    root = ledger_conn.execute(
        "SELECT encode(root_hash, 'hex') FROM ledger_checkpoints_" + json.loads(done.stdout)[
            "tables"][0].removeprefix("ledger_events_") + " ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    assert [(d["tenant"], d["origin"], d["size"], d["root"]) for d in report["detached"]] == [
        ("zz", origin, size, root[0] if root else None)]
    held = main("hold", "list", "--all")
    assert held.exit_code == 0, held.stderr
    line = next(r for r in held.stdout.splitlines() if r.startswith(hold_id))
    assert line.split()[1:] == ["zz", str(run[0].run_id), "-", "released", "(tenant",
                                "detached)", "asserted"]
    assert main("hold", "list").stdout == "no holds in force\n"
    listed = {r["tenant"]: r for r in json.loads(main("tenants", "list", "--json").stdout)}
    assert [(s["lo"], s["hi"]) for s in listed["zz"]["ranges"]] == [(0, size)]
    again = main("tenants", "add", "zz")
    assert (again.exit_code, again.stderr) == (1, (
        f"error: tenant zz was detached at {listed['zz']['detached_at']}: its log is closed "
        "(pick another tenant name)\n"))
