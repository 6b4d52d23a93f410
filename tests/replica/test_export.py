"""`ledger export` reads the replica and records custody on the primary.

The proof that the bundle comes from the replica: WAL replay is paused, runs are recorded on
the primary, and the export holds none of them (it ends at the replica's newest checkpoint),
while its `export.created` event, naming that checkpoint, is on the primary and not on the
(paused) replica; once replay resumes the replica has it too and verifies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.replica.conftest import GROUP, Cli, Replicated

pytestmark = GROUP

CUSTODY = ("SELECT doc FROM (SELECT convert_from(body, 'UTF8')::jsonb AS doc FROM ledger_events "
           "WHERE type = 'export.created') e WHERE doc->'data'->>'manifest_digest' = '{digest}'")
NEWEST = ("SELECT tree_size, encode(root_hash, 'hex') FROM ledger_checkpoints "
          "WHERE origin = 'agent-ledger.local/default' ORDER BY tree_size DESC LIMIT 1")


@pytest.fixture
def paused(replicated: Replicated) -> Iterator[Replicated]:
    """Replay paused on the replica for the test, resumed (and caught up) after it."""
    replicated.pair.caught_up()
    replicated.paused()
    try:
        yield replicated
    finally:
        replicated.resumed()


def test_export_builds_from_the_replica_and_records_custody_on_the_primary(
    paused: Replicated, cli: Cli, tmp_path: Path
) -> None:
    pair = paused.pair
    exported_size, exported_root = _newest(paused, "replica")
    late = paused.record_runs(2, agent="after-pause")
    assert _newest(paused, "primary")[0] > exported_size
    out = tmp_path / "bundle"
    result = cli("export", "--since", "2000-01-01", "--out", str(out), "--json", replica=True)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["end_size"] == exported_size
    bodies = (out / "ledger/events.jsonl").read_text(encoding="utf-8")
    assert bodies and not any(run_id in bodies for run_id in late)
    assert "after-pause" not in bodies
    custody = CUSTODY.format(digest=summary["manifest_sha256"])
    on_primary = pair.query("primary", custody)
    assert isinstance(on_primary, dict)
    assert on_primary["data"]["parameters"]["end_size"] == exported_size
    assert on_primary["data"]["parameters"]["end_root"] == exported_root
    assert pair.query("replica", custody) is None  # replay is paused: it was never written there
    paused.resumed()
    assert pair.query("replica", custody) == on_primary
    again = cli("verify", replica=True, record=False)
    assert again.exit_code == 0 and again.stdout.startswith("OK"), again.stdout + again.stderr


def test_a_feed_export_reads_the_replica_too(paused: Replicated, cli: Cli, tmp_path: Path) -> None:
    late = paused.record_runs(1, agent="after-pause-feed")
    out = tmp_path / "feed"
    result = cli("export", "--since", "2000-01-01", "--out", str(out), "--format", "jsonl",
                 "--json", replica=True)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = (out / "events.jsonl").read_text(encoding="utf-8")
    assert lines.count("\n") == json.loads(result.stdout)["events"] > 0
    assert late[0] not in lines


def _newest(ready: Replicated, which: str) -> tuple[int, str]:
    """(size, root hex) of the default tenant's newest checkpoint on one server."""
    with psycopg.connect(ready.pair.dsn(which), autocommit=True) as conn:
        row = conn.execute(NEWEST.encode()).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])
