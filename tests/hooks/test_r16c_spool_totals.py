"""Review r16c: running totals of an enforced run survive a database outage (the spool).

Events written while the database is unreachable go to the spool as bodies only
(ledger/hooks/writer.py `_to_spool`, spool.parse_line): their running-total deltas are lost,
so when the spool is delivered the database's totals never count the spend. A run resumed in
another process (or a worker) then starts from understated totals: budgets fail open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

import ledger
from ledger.hooks.writer import Writer

from .conftest import FlakyDatabase
from .test_enforce_rules import publish

PACK = """\
mode: enforce
scope: {agents: [r16c-spool]}
tools: {allow: [lookup]}
budgets: {max_usd_per_run: '1000'}
"""


def test_spooled_spend_is_counted_in_the_run_totals(
    writer: Writer, flaky: FlakyDatabase, ledger_conn: psycopg.Connection, cli: Any,
    tmp_path: Path
) -> None:
    publish(cli, tmp_path, PACK)
    with ledger.run(agent="r16c-spool", user="ann") as run:
        assert run.enf is not None
        a = run.llm_started(model="gpt-4o")
        run.llm_ended(a, response_model="gpt-4o", input_tokens=100, output_tokens=0)
        assert writer.flush()
        flaky.go_down()
        b = run.llm_started(model="gpt-4o")
        run.llm_ended(b, response_model="gpt-4o", input_tokens=5000, output_tokens=0)
        writer.flush(timeout=1.0)
        flaky.come_back()
        assert writer.flush()
        rid = run.run_id
    row = ledger_conn.execute("SELECT total_tokens FROM ledger_run_totals_of(%s)",
                              (rid,)).fetchone()
    assert row is not None and row[0] == 5100, row
