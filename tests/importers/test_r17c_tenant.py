"""Whose log imported history lands in (review r17c), from the attacker's side.

Attack: the import ignored the tenant (every imported event said `tenant: default`), and the
derived ids did not name the tenant, although event ids are unique across the whole ledger.
So `LEDGER_TENANT=acme ledger import ...` wrote acme's history into the default tenant's log
(readable by that tenant, missing from acme's), and a writer of another tenant who imported
crafted records with the same source ids first owned those ids, so the victim's import of its
own history was refused. Outcome now: events carry the configured tenant (`--tenant` or
LEDGER_TENANT), ids are derived per tenant, a tenant-bound writer imports into its own tenant
only, and asking for another tenant is a one-line error with nothing stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from ledger.config import Settings

from .kit import events, langfuse_run, report


def _obs(oid: str, trace: str, **extra: Any) -> dict[str, Any]:
    return {"id": oid, "traceId": trace, "projectId": "proj-t", "type": "TOOL", "name": "refund",
            "startTime": "2026-11-02T09:00:00.000Z", "endTime": "2026-11-02T09:00:01.000Z",
            "input": {"order": "A1"}, "output": {"ok": True}, **extra}


def _write(path: Path, *records: Any) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_import_lands_in_the_configured_tenant(cli: Any, ledger_conn: psycopg.Connection,
                                               tmp_path: Path) -> None:
    src = _write(tmp_path / "x.jsonl", _obs("o-1", "t-env", tenant="other", trust="live"))
    res = cli("import", "langfuse", str(src), "--json", env={"LEDGER_TENANT": "acme"})
    assert res.exit_code == 0, res.stderr
    assert (report(res)["imported"], report(res)["runs"]) == (1, 1)
    evs = events(ledger_conn, langfuse_run("t-env", "proj-t", tenant="acme"))
    assert [e.type for e in evs] == ["run.started", "tool.call.started", "tool.call.ended",
                                     "run.ended"]
    assert {(e.tenant, e.trust) for e in evs} == {("acme", "imported")}
    assert events(ledger_conn, langfuse_run("t-env", "proj-t")) == []  # not in default's log
    flag = cli("import", "langfuse", str(src), "--json", "--tenant", "beta")
    assert flag.exit_code == 0, flag.stderr
    assert {e.tenant for e in events(ledger_conn, langfuse_run("t-env", "proj-t", "beta"))} == {
        "beta"}


def test_another_tenant_cannot_squat_our_source_ids(cli: Any, ledger_conn: psycopg.Connection,
                                                    tmp_path: Path) -> None:
    forged = _write(tmp_path / "f.jsonl", _obs("o-s", "t-squat", output={"refunded": 9999}))
    res = cli("import", "langfuse", str(forged), "--tenant", "mallory")
    assert res.exit_code == 0, res.stderr
    real = _write(tmp_path / "r.jsonl", _obs("o-s", "t-squat"))
    res = cli("import", "langfuse", str(real), "--json")
    assert res.exit_code == 0, res.stderr
    assert (report(res)["imported"], report(res)["skipped"]) == (1, 0)
    ours = events(ledger_conn, langfuse_run("t-squat", "proj-t"))
    assert ours[2].data.result == {"ok": True}
    assert {e.tenant for e in ours} == {"default"}


def test_bad_tenant_name_is_one_line_error(cli: Any, tmp_path: Path) -> None:
    src = _write(tmp_path / "x.jsonl", _obs("o-1", "t-bad"))
    res = cli("import", "langfuse", str(src), "--tenant", "Evil/\x1b[2J")
    assert res.exit_code == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "\x1b" not in res.stderr and "is not a tenant name" in res.stderr


@pytest.fixture
def writer_a(ledger_settings: Settings, ledger_conn: psycopg.Connection,
             cli: Any) -> Iterator[str]:
    """The DSN of a LOGIN writer bound to tenant a (`ledger db writer add`)."""
    role = f"w_imp_{uuid.uuid4().hex[:8]}"
    res = cli("db", "writer", "add", role, "--tenant", "a", "--password-env", "W_PW",
              env={"W_PW": "pw-a"})
    assert res.exit_code == 0, res.stderr
    try:
        yield conninfo.make_conninfo(ledger_settings.dsn or "", user=role, password="pw-a")
    finally:
        ledger_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        ledger_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_bound_writer_imports_into_its_tenant_only(cli: Any, writer_a: str,
                                                   ledger_conn: psycopg.Connection,
                                                   tmp_path: Path) -> None:
    src = _write(tmp_path / "x.jsonl", _obs("o-w", "t-writer"))
    res = cli("import", "langfuse", str(src), "--tenant", "b", env={"LEDGER_DSN": writer_a})
    assert res.exit_code != 0
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)
    res = cli("import", "langfuse", str(src), "--json", env={"LEDGER_DSN": writer_a,
                                                              "LEDGER_TENANT": "a"})
    assert res.exit_code == 0, res.stderr
    assert (report(res)["imported"], report(res)["skipped"]) == (1, 0)
    rows = ledger_conn.execute("SELECT origin, count(*) FROM ledger_intake GROUP BY 1").fetchall()
    assert rows == [("agent-ledger.local/a", 4)]
