"""Inclusion, consistency and run-completeness proofs from stored tiles, checked offline."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.merkle import consistency_proof, inclusion_proof, root_from_leaf_hashes
from ledger.proofcheck import ProofInvalid, check_document
from ledger.proofs import consistency_doc, inclusion_doc, run_doc
from ledger.tiles import TileReader, rebuild_tiles
from ledger.verify import trusted_verifiers
from tests.integrity.conftest import Cli
from tests.ledgerkit import append, chained_run


def _leaves(conn: psycopg.Connection) -> list[bytes]:
    return [bytes(r[0]) for r in conn.execute("SELECT leaf_hash FROM ledger_events ORDER BY seq")]


def test_tiles_match_leaves_across_many_batches(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    events = []
    for _ in range(70):
        events += chained_run(3)  # 8 events per run, 560 events
    for start in range(0, len(events), 97):  # batches that straddle tile boundaries
        append(ledger_conn, ledger_settings, events[start : start + 97])
    leaves = _leaves(ledger_conn)
    origin = ledger_settings.origin()
    reader = TileReader(ledger_conn, origin)
    for size in (1, 255, 256, 257, 511, 512, 513, 560):
        assert reader.hashes([(0, size)])[0] == root_from_leaf_hashes(leaves[:size])
    from ledger.tiles import consistency_ranges, inclusion_ranges

    for index, size in ((0, 560), (300, 560), (559, 560), (256, 257)):
        assert reader.hashes(inclusion_ranges(index, size)) == inclusion_proof(index, size, leaves)
    for old, new in ((1, 560), (256, 560), (300, 513), (513, 560)):
        assert reader.hashes(consistency_ranges(old, new)) == consistency_proof(old, new, leaves)
    # tiles written by the sequencer equal tiles rebuilt from scratch
    before = ledger_conn.execute(
        "SELECT level, idx, hashes FROM ledger_tiles ORDER BY 1, 2"
    ).fetchall()
    rebuild_tiles(ledger_conn, origin, 560)
    after = ledger_conn.execute(
        "SELECT level, idx, hashes FROM ledger_tiles ORDER BY 1, 2"
    ).fetchall()
    assert before == after and [(r[0], r[1]) for r in after] == [(0, 0), (0, 1), (0, 2), (1, 0)]


def test_inclusion_consistency_run_docs_verify_offline(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    runs = [chained_run(2) for _ in range(5)]
    for run in runs:
        append(ledger_conn, ledger_settings, run)
    verifiers = trusted_verifiers(ledger_settings)
    doc = inclusion_doc(ledger_conn, runs[2][3].event_id)
    report = check_document(doc, verifiers)
    assert (report.kind, report.tree_size, report.details["seq"]) == ("inclusion", 30, 15)
    cons = consistency_doc(ledger_conn, ledger_settings.origin(), 12)
    assert check_document(cons, verifiers).details == {
        "old_size": 12,
        "old_root": cons["old_root"],
        "new_size": 30,
    }
    assert cons["old_checkpoint"] is not None  # size 12 was a batch boundary
    rdoc = run_doc(ledger_conn, runs[1][0].run_id)
    assert check_document(rdoc, verifiers).details == {
        "run_id": str(runs[1][0].run_id),
        "events": 6,
        "complete": True,
    }


def test_cli_prove_and_verify_proof(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, icli: Cli, tmp_path: Path
) -> None:
    run = chained_run(1)
    append(ledger_conn, ledger_settings, run)
    res = icli("prove", str(run[1].event_id), "--out", str(tmp_path / "p.json"))
    assert res.exit_code == 0, res.stderr
    res = icli("verify-proof", str(tmp_path / "p.json"))
    assert (res.exit_code, res.stdout.strip()) == (
        0,
        f"OK: inclusion proof valid against {ledger_settings.origin()} size 4",
    )
    res = icli("prove", "--run", str(run[0].run_id))
    assert res.exit_code == 0
    (tmp_path / "r.json").write_text(res.stdout)
    assert icli("verify-proof", str(tmp_path / "r.json"), "--json").exit_code == 0
    res = icli("prove", "--consistency", "1", "4")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["new_size"] == 4
    res = icli("prove", str(uuid.uuid4()))
    assert res.exit_code == 1 and "no sequenced event" in res.stderr


def _run_doc(conn: psycopg.Connection, settings: Settings, n_tools: int = 2) -> dict[str, object]:
    run = chained_run(n_tools)
    append(conn, settings, chained_run(1) + run)
    return run_doc(conn, run[0].run_id)


@pytest.mark.parametrize(
    ("attack", "message"),
    [
        ("drop_middle", "run_seq gap or reorder: events\\[2\\] has run_seq 3"),
        ("drop_last", "run has not ended"),
        ("swap", "run_seq gap or reorder: events\\[1\\] has run_seq 2"),
        ("extra_from_other_run", "belongs to run"),
        ("edited_body", "invalid inclusion proof"),
    ],
)
def test_run_proof_detects_dropped_reordered_added_events(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, attack: str, message: str
) -> None:
    doc = _run_doc(ledger_conn, ledger_settings)
    verifiers = trusted_verifiers(ledger_settings)
    events = list(doc["events"])  # type: ignore[call-overload]
    if attack == "drop_middle":
        del events[2]
    elif attack == "drop_last":
        events.pop()
    elif attack == "swap":
        events[1], events[2] = events[2], events[1]
    elif attack == "extra_from_other_run":
        row = ledger_conn.execute("SELECT event_id FROM ledger_events WHERE seq = 1").fetchone()
        assert row is not None
        other = inclusion_doc(ledger_conn, row[0])
        events.insert(1, {"seq": other["seq"], "body": other["body"], "proof": other["proof"]})
    else:
        import base64

        body = base64.b64decode(events[1]["body"]).replace(b"crm.update", b"crm.delete")
        events[1] = {**events[1], "body": base64.b64encode(body).decode()}
    with pytest.raises(ProofInvalid, match=message):
        check_document({**doc, "events": events}, verifiers)


def test_run_end_must_commit_to_count_and_last_hash(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    from ledger.events import make_event

    run = chained_run(1)
    bad_end = make_event(
        "run.ended",
        run_id=run[0].run_id,
        run_seq=3,
        prev_run_hash=run[-1].prev_run_hash,
        data={"status": "succeeded", "event_count": 3, "last_hash": run[-1].prev_run_hash},
    )
    append(ledger_conn, ledger_settings, [*run[:-1], bad_end])
    with pytest.raises(ProofInvalid, match=r"run\.ended commits to 3 events, proof has 4"):
        check_document(run_doc(ledger_conn, run[0].run_id), trusted_verifiers(ledger_settings))


def test_offline_verifier_imports_no_database_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ledger.proofcheck, ledger.witness, ledger.keyring\n"
        "bad = [m for m in sys.modules if m.startswith(('psycopg', 'ledger.db', 'ledger.store'))]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert out.stdout.strip() == "[]"
