"""The writer does not pick its judge (review 15, item 5), from the writer's side.

A run's `versions.policy_hash` is the writer's word. A hostile writer names the most lenient
pack ever published (in another tenant's log, or superseded in its own); `ledger check` judges
the run by the pack in force in the run's own log when it started and fails
`policy.in_force` naming both (replay.policy.inforce).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.hooks.writer import Writer
from ledger.store.door import append, single_event
from replay.policy import load_pack_text
from replay.policy.published import publish_policy
from tests.replay.conftest_db import as_json, record, spec, tool

Cli = Callable[..., Any]
STRICT = "tools: {allow: [search]}\n"
LENIENT = "max_tool_calls: 100\n"


def _publish_in(conn: psycopg.Connection, settings: Settings, text: str, tenant: str) -> str:
    """A pack published in another tenant's log (its operator's, or a forged one)."""
    loaded = load_pack_text(text, "lenient.yaml")
    data = {"policy_hash": loaded.policy_hash, "name": loaded.name, "version": loaded.version,
            "document": loaded.document}
    append(conn, [single_event("policy.published", data, tenant=tenant,
                               versions={"policy_hash": loaded.policy_hash})], settings)
    return loaded.policy_hash


def test_a_run_is_judged_by_the_pack_in_force_not_the_one_it_names(
    writer: Writer, ledger_conn: psycopg.Connection, ledger_settings: Settings, cli: Cli
) -> None:
    old = publish_policy(ledger_conn, ledger_settings, load_pack_text(LENIENT, "old.yaml"))
    strict = publish_policy(ledger_conn, ledger_settings, load_pack_text(STRICT, "strict.yaml"))
    foreign = _publish_in(ledger_conn, ledger_settings, LENIENT + "max_total_tokens: 9999\n",
                          "other-tenant")
    runs = {name: record(spec(tool("delete_record", {"id": 1}), policy_hash=h))
            for name, h in (("foreign", foreign), ("superseded", old.policy_hash),
                            ("honest", strict.policy_hash))}
    res = cli("check", "--json", "--since", "2000-01-01")
    assert res.exit_code == 1, res.stderr
    got = {r["run_id"]: r for r in as_json(res.stdout)["runs"]}
    for name, named in (("foreign", foreign), ("superseded", old.policy_hash)):
        run = got[runs[name]]
        assert run["policy_hash"] == strict.policy_hash  # judged by the pack in force
        v = {x["rule_id"]: x for x in run["verdicts"]}
        assert v["policy.in_force"]["outcome"] == "fail"
        assert v["policy.in_force"]["explanation"] == (
            f"run names pack {named[:12]}, pack in force was {strict.policy_hash[:12]}")
        assert v["tools.allow"]["outcome"] == "fail"  # the strict pack's rule, not the lenient
    honest = {x["rule_id"]: x["outcome"] for x in got[runs["honest"]]["verdicts"]}
    assert honest == {"tools.allow": "fail"}  # no policy.in_force verdict when names agree
