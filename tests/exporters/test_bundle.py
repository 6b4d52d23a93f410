"""Evidence bundle round trip on a real ledger, and offline verification without psycopg."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq

from exporters.bundle import ExportParams, export_bundle
from exporters.bundle_verify import verify_bundle
from exporters.populations import POPULATIONS
from ledger.config import Settings
from ledger.merkle import consistency_proof
from ledger.store.sequencer import log_signer
from tests.exporters.conftest import SINCE, UNTIL

REPO = Path(__file__).resolve().parents[2]


def export(conn: psycopg.Connection, settings: Settings, out: Path, **kw: Any) -> Any:
    return export_bundle(conn, settings, ExportParams(since=SINCE, until=UNTIL, out=out, **kw))


def test_round_trip_contents_and_verification(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    populated: dict[str, Any],
    tmp_path: Path,
) -> None:
    out = tmp_path / "bundle"
    result = export(ledger_conn, ledger_settings, out)
    inside = populated["inside"]
    assert result.events == len(inside)
    assert 0 < result.start_size <= len(populated["before"])
    assert result.end_size == len(populated["before"]) + len(inside) + len(populated["after"])
    for rel in (
        "README.md",
        "VERIFY.md",
        "SHA256SUMS",
        "manifest.json",
        "keys/trust.json",
        "attestation/bundle.dsse.json",
        "checkpoints/start.note",
        "checkpoints/end.note",
        "checkpoints/consistency.json",
        "ledger/events.parquet",
        "ledger/events.jsonl",
        "ledger/leaves.parquet",
        "controls/control-matrix.csv",
        "config/policies.jsonl",
        "config/versions_in_force.csv",
        "custody/custody_log.jsonl",
        "exceptions/known_gaps.md",
        "replays/undo_records.jsonl",
    ):
        assert (out / rel).is_file(), rel
    table = pq.read_table(out / "ledger/events.parquet")
    assert table.column("event_id").to_pylist() == [str(e.event_id) for e in inside]
    lines = (out / "ledger/events.jsonl").read_bytes().splitlines()
    assert [line.decode() for line in lines] == table.column("body").to_pylist()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["row_counts"]["events"] == len(inside)
    controls = {p.split("/")[0] for p in manifest["row_counts"]["populations"]}
    assert controls == {
        "CC6.1",
        "CC6.2",
        "CC6.3",
        "CC6.6",
        "CC7.2",
        "CC7.3",
        "CC7.4",
        "CC7.5",
        "CC8.1",
    }
    assert manifest["row_counts"]["populations"]["CC6.1/tool_calls_by_identity"] == 8
    sod = (out / "populations/CC6.3/approvals_sod.csv").read_text().splitlines()
    assert (
        len(sod) == 5 and sum(line.endswith(",0") for line in sod[1:]) == 1
    )  # alice approved alice
    gaps = (out / "exceptions/known_gaps.md").read_text()
    assert "replay.check" in gaps and "not available in this version" in gaps
    # the consistency proof equals the in-memory RFC 6962 one
    leaves = pq.read_table(out / "ledger/leaves.parquet").column("leaf_hash").to_pylist()
    proof = json.loads((out / "checkpoints/consistency.json").read_text())["proof"]
    assert proof == [p.hex() for p in consistency_proof(result.start_size, result.end_size, leaves)]

    report = verify_bundle(out, None)
    assert report.valid, [p.line() for p in report.problems]
    assert report.events == len(inside) and report.leaves == result.end_size
    # the export is recorded in the ledger
    row = ledger_conn.execute(
        "SELECT body FROM ledger_events WHERE type = 'export.created'"
    ).fetchone()
    assert row is not None
    body = json.loads(bytes(row[0]))
    assert body["data"]["manifest_digest"] == result.manifest_sha256
    assert body["data"]["parameters"]["since"] == SINCE


def test_population_sql_matches_exported_rows(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    populated: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Every shipped SQL text, run by a real SQL engine over the events, gives the CSV rows."""
    out = tmp_path / "b"
    export(ledger_conn, ledger_settings, out)
    table = pq.read_table(out / "ledger/events.parquet")
    db = sqlite3.connect(":memory:")
    cols = table.column_names
    db.execute(f"CREATE TABLE events ({', '.join(cols)})")
    db.executemany(
        f"INSERT INTO events VALUES ({', '.join('?' * len(cols))})",
        [tuple(r[c] for c in cols) for r in table.to_pylist()],
    )
    for pop in POPULATIONS:
        meta = json.loads((out / pop.meta_path).read_text())
        got = db.execute(meta["sql"]).fetchall()
        csv_rows = (out / pop.path).read_text().splitlines()[1:]
        assert len(got) == meta["row_count"] == len(csv_rows), pop.id
        want = [
            ",".join(
                "" if v is None else ({1: "true", 0: "false"}[v] if c == "side_effect" else str(v))
                for v, c in zip(r, pop.columns, strict=True)
            )
            for r in got
        ]
        assert want == csv_rows, pop.id


def test_controls_filter_and_empty_period(
    ledger_conn: psycopg.Connection,
    ledger_settings: Settings,
    populated: dict[str, Any],
    tmp_path: Path,
) -> None:
    out = tmp_path / "b"
    export_bundle(
        ledger_conn,
        ledger_settings,
        ExportParams(
            since="2030-01-01T00:00:00Z",
            until="2030-02-01T00:00:00Z",
            out=out,
            controls=("CC6.1", "CC8.1"),
            record=False,
        ),
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["row_counts"]["populations"]) == {
        "CC6.1/tool_calls_by_identity",
        "CC8.1/changes",
        "CC8.1/gate_results",
    }
    assert manifest["row_counts"]["events"] == 0
    assert verify_bundle(out, None).valid


def test_cli_export_and_verify_bundle_without_psycopg(
    ledger_settings: Settings,
    populated: dict[str, Any],
    cli: Any,
    tmp_path: Path,
) -> None:
    out = tmp_path / "cli-bundle"
    res = cli("export", "--since", SINCE, "--until", UNTIL, "--out", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    assert "export bundle [" in res.stderr  # progress bar on stderr
    trust = ledger_settings.log_key_path.with_name("log.key.pub")
    log_signer(ledger_settings)
    # offline verification in a fresh interpreter: no database layer may be imported
    code = (
        "import sys, json; from pathlib import Path; from exporters.bundle_verify import "
        "verify_bundle; r = verify_bundle(Path(sys.argv[1]), Path(sys.argv[2])); "
        "bad = [m for m in sys.modules if m == 'psycopg' or m.startswith(('psycopg.', "
        "'ledger.store', 'ledger.db'))]; print(json.dumps({'valid': r.valid, 'bad': bad, "
        "'events': r.events}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out), str(trust)],
        capture_output=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    result = json.loads(proc.stdout)
    assert result == {"valid": True, "bad": [], "events": len(populated["inside"])}
